"""Programs that run on the hosts, shipped byte-for-byte (see README.md); a package only so tests import them."""

"""What only an AWS placement needs: instance types (architecture, Debian image, recovery), IAM documents, the
EC2 power calls. A second placement (another cloud) would sit beside this package, not inside the generic code."""

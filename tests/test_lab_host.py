"""`constellab/lab_host.py`: the lab-host contract, the set of containers the lab manager runs."""

from __future__ import annotations

from constellab import lab_host


def test_the_lab_manager_set_is_described_once_with_its_names_networks_and_hosts():
    names = [container.name for container in lab_host.lab_manager_containers(biota=True)]
    assert names == [
        "front",
        "glab",
        "codelab",
        "gws_core_prod_db",
        "gws_core_dev_db",
        "test_gws_dev_db",
        "gws_biota_db",
    ]
    assert "gws_biota_db" not in {container.name for container in lab_host.lab_manager_containers(biota=False)}
    codelab = next(c for c in lab_host.LAB_MANAGER_SET if c.name == "codelab")
    assert codelab.networks == ("gencovery-network-dev",) and codelab.published_ports == (2222,)
    first = codelab.routes[0]
    assert (first.host, first.port, first.basic_auth) == ("codelab", 8080, True)

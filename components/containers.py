"""ContainerSet: a server's Docker networks, generated passwords and containers, from the topology."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.values import ServerValues
from constellab import topology
from constellab.values import Value


@dataclass(frozen=True)
class ContainerSetArgs:
    """Arguments of `ContainerSet`."""

    server_set: topology.ServerSet
    values: ServerValues
    """Deployment-time values for the specs' `Ref`s that are not generated here (secrets, bucket names)."""


class ContainerSet(pulumi.ComponentResource):
    """Networks by their exact names, one `RandomPassword` per generated secret, one pinned image and
    container per spec.

    Pass the server's Docker provider through `opts.providers`; every child uses it.
    """

    passwords: dict[Value, random.RandomPassword]
    containers: dict[str, docker.Container]

    def __init__(self, name: str, args: ContainerSetArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("constellab:containers:ContainerSet", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        specs = args.server_set.containers

        networks = {
            network.name: docker.Network(
                f"{name}-net-{network.name}",
                name=network.name,
                driver="bridge",
                ipam_configs=[docker.NetworkIpamConfigArgs(subnet=network.subnet, ip_range=network.ip_range)]
                if network.subnet
                else None,
                # Its name is fixed (the lab manager's compose names it): a replacement cannot exist beside it.
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True),
            )
            for network in args.server_set.networks
        }
        # A database reads its password only when it first creates its data: a new password would
        # lock the data out, so a database's password is kept exactly like the data.
        kept = pulumi.ResourceOptions(parent=self, protect=True, retain_on_delete=True)
        self.passwords = {
            secret: random.RandomPassword(
                f"{name}-{secret}",
                length=32,
                special=False,
                opts=kept if topology.is_database_secret(secret) else child,
            )
            for secret in topology.generated_secret_names(specs)
        }
        values: dict[Value, pulumi.Output[str]] = {
            key: pulumi.Output.from_input(value) for key, value in args.values.values.items()
        }
        values |= {secret: password.result for secret, password in self.passwords.items()}

        def resolve(value: topology.EnvValue | str) -> pulumi.Input[str]:
            if isinstance(value, topology.Ref):
                if value.name not in values:
                    raise KeyError(f"container set {name}: no value for {value.name.value!r}")
                resolved = values[value.name]
                return pulumi.Output.secret(resolved) if value.secret else resolved
            return value

        images = {
            # Named by repository, not tag: a new version updates the image instead of adding one.
            image: docker.RemoteImage(
                f"{name}-image-{_repository_slug(image)}", name=image, keep_locally=True, opts=child
            )
            for image in sorted({spec.image for spec in specs})
        }
        self.containers = {}
        for spec in specs:
            self.containers[spec.name] = docker.Container(
                f"{name}-{spec.role}",
                name=spec.name,
                image=images[spec.image].image_id,
                restart=spec.restart,
                must_run=True,
                networks_advanced=[
                    docker.ContainerNetworksAdvancedArgs(
                        name=networks[network].name, ipv4_address=spec.addresses.get(network)
                    )
                    for network in spec.networks
                ],
                envs=[pulumi.Output.concat(key, "=", resolve(value)) for key, value in sorted(spec.env.items())],
                volumes=[
                    docker.ContainerVolumeArgs(
                        host_path=mount.host_path, container_path=mount.container_path, read_only=mount.read_only
                    )
                    for mount in spec.mounts
                ],
                uploads=[
                    docker.ContainerUploadArgs(
                        file=file.path, content=resolve(file.content), permissions=f"{file.mode:04o}"
                    )
                    for file in spec.files
                ],
                ports=[docker.ContainerPortArgs(internal=port.internal, external=port.external) for port in spec.ports],
                labels=[docker.ContainerLabelArgs(label=key, value=value) for key, value in sorted(spec.labels.items())]
                or None,
                command=list(spec.command) or None,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    aliases=[pulumi.Alias(name=f"{name}-{role}") for role in spec.previous_roles] or None,
                    # A replacement cannot bind the host ports the old container holds: it goes first.
                    delete_before_replace=bool(spec.ports),
                ),
            )
        self.register_outputs({"networks": sorted(networks), "containers": sorted(self.containers)})


def _repository_slug(image: str) -> str:
    """`registry:5000/team/app:1.2@sha256:...` -> `registry-5000-team-app`."""
    repository = image.split("@", 1)[0]
    last_slash = repository.rfind("/")
    if ":" in repository[last_slash + 1 :]:
        repository = repository[: repository.rindex(":")]
    return "".join(ch if ch.isalnum() else "-" for ch in repository).strip("-")

"""The lab manager client's parts, one concern each; `constellab.lab_manager_client` is the entry point.

- `request`: the request document read on stdin, its validation, the secrets it holds, and the errors;
- `answers`: what the lab manager answers: an HTTP answer, its error message, the lab's status;
- `https`: HTTPS to the lab manager's Traefik under the lab manager's name, and the certificate check;
- `tunnel`: where the connections go: an address, or an SSH local port forward to the machine;
- `session`: one run of the flow: the health wait, the configuration and init calls, the wait until up;
- `wording`: failures and values in one line, secrets redacted.

Like the client, every module here imports only the standard library (and each other).
"""

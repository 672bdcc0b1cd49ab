"""The parts of the deploy identity's IAM policy; `constellab.deploy_permissions` renders it and is the command.

- `model`: what an entry of the table is (actions by lifecycle phase, a scope of names), and a statement;
- `names`: what the program names its IAM roles, users, profiles, buckets, alarms and schedules, as scopes;
- `resources`: the IAM actions each resource type the program declares needs;
- `lookups`: the IAM actions each lookup (invoke) needs, and the provider's own.
"""

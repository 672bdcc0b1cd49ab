"""The offline engine: the real Pulumi program under Pulumi's mock engine, and what is made of its runs.

- `engine`: runs the program for one stack file, recording every registration (`run_program`);
- `documents`: one stack's preview as data (the JSON schema's `stack` object), several in parallel;
- `text`: the preview as text;
- `guardrails`: the policy pack's rules over a run;
- `diff`, `replacements`, `impact`: the difference between two previews, as the engine would show it;
- `report`, `diagram`: the pull-request comment and the Mermaid diagrams;
- `sdk_internals` (top level): every part of the Pulumi SDK used here that is not its public API.

Used by `ops` (the command line), the tests and `bench/`; it never imports `ops`.
"""

"""The settings of prompt enhancement's own chat endpoint: ``enhance_url`` and ``enhance_api_key_env``.

```yaml
enhance_url: https://api.openai.com/v1     # any OpenAI-compatible API base (POST {enhance_url}/chat/completions)
enhance_api_key_env: OPENAI_API_KEY         # the variable holding its key (omit for an endpoint without keys)
enhance_model: gpt-4o-mini
```

Without ``enhance_url`` the first upstream is asked (:mod:`gateway.pipeline.chat`). Like an upstream's
``api_key_env``, the variable must be set when the gateway starts; a key itself never goes into a file.
"""

from __future__ import annotations

import os

from gateway.config_upstreams import ENV_NAME


def chat_key(api_key_env: str | None) -> str | None:
    """The endpoint's key, from the variable ``api_key_env`` names."""
    return os.environ.get(api_key_env) if api_key_env else None


def chat_key_problem(url: str | None, api_key_env: str | None) -> str | None:
    """What is wrong with the key setting (a variable without a URL, a name that is not one, one not set)."""
    if api_key_env is None:
        return None
    if not url:
        return "enhance_api_key_env needs enhance_url (the chat endpoint the key is for)"
    if not ENV_NAME.match(api_key_env):
        return f"enhance_api_key_env must name an environment variable, got {api_key_env!r}"
    if not os.environ.get(api_key_env):
        return f"enhance_api_key_env {api_key_env} is not set in the environment"
    return None

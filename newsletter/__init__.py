"""newsletter: curated weekly newsletters from one YAML file per issue.

The library is usable without the CLI: see `newsletter.api`.
"""

__version__ = "0.1.0"

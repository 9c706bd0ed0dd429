"""Pictures of a study: pure data extraction (``data``) and matplotlib renderers (``plots``)."""

"""MkDocs hook: docstring examples (">>>" lines and their output) are shown
as Python code blocks in the API reference instead of being read as
markdown (where ">" starts a quote and "[a]" a link).

Registered in mkdocs.yml under `hooks:`; it adds a Python-Markdown
preprocessor, which mkdocstrings also uses for the docstrings it renders.
"""

import re

from markdown import Extension
from markdown.preprocessors import Preprocessor
from mkdocs.plugins import event_priority

PROMPT = re.compile(r"^\s*>>> ")


class DoctestBlocks(Preprocessor):
    """Fences each doctest block: from a ">>> " line to the next blank
    line (its continuations and output included)."""

    def run(self, lines):
        out, in_doctest, in_fence = [], False, False
        for line in lines:
            if not in_doctest and line.lstrip().startswith("```"):
                in_fence = not in_fence
            if in_doctest and not line.strip():
                out.append("```")
                in_doctest = False
            elif not (in_fence or in_doctest) and PROMPT.match(line):
                out.extend(["", "```python"])
                in_doctest = True
            out.append(line)
        if in_doctest:
            out.append("```")
        return out


class DoctestBlocksExtension(Extension):
    def extendMarkdown(self, md):
        md.preprocessors.register(DoctestBlocks(md), "doctest_blocks", 40)


@event_priority(100)  # before mkdocstrings reads the extensions
def on_config(config):
    config.markdown_extensions.append(DoctestBlocksExtension())
    return config

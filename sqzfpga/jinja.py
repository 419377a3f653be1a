"""The one Jinja factory: every generated text (C++, SystemVerilog, Tcl, the report) comes from a
template under sqzfpga/templates/, and a name a template uses but its caller did not pass is an error
(StrictUndefined), never an empty string in generated code."""
from __future__ import annotations

from pathlib import Path

import jinja2

TEMPLATES = Path(__file__).resolve().parent / "templates"


def environment(**options) -> jinja2.Environment:
    """An environment over TEMPLATES with strict undefined names; `options` are an output's own
    whitespace and escaping rules (the report trims blocks and escapes its HTML; code is left as written)."""
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
                              **options)


_code = environment()


def render(template: str, **params) -> str:
    """A code template (C++, SystemVerilog, Tcl) without surrounding white space: an hls4ml config
    snippet as it is, a file's text to which its writer adds the final newline."""
    return _code.get_template(template).render(**params).strip()

"""The package's docstrings name other objects with Sphinx roles (:class:`KVCache`), as
``help()`` readers and IDEs expect. mkdocstrings reads docstrings as Markdown, where a role
would show as text; this Griffe extension turns each into a link to the object's entry in
the API reference (plain code when the name is not the package's)."""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|attr|mod|obj|data|exc):`~?([\w.]+)`")


class SphinxRoles(griffe.Extension):
    def on_package(self, *, pkg: griffe.Module, **kwargs) -> None:
        self._rewrite(pkg)

    def _rewrite(self, obj: griffe.Object) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(lambda role: self._link(obj, role[1]), obj.docstring.value)
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member)

    @staticmethod
    def _link(obj: griffe.Object, name: str) -> str:
        try:
            target = obj.resolve(name)
        except griffe.NameResolutionError:
            return f"`{name}`"
        return f"[`{name.rsplit('.', 1)[-1]}`][{target}]" if target.startswith("pytorch_notes.") else f"`{name}`"

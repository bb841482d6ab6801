"""A stand-in for ``bpy.types.UILayout`` that records every call a ``draw`` makes.

``Panel.draw`` cannot run on a real panel in the ``bpy`` module, so tests call a
panel class's ``draw`` with a stand-in ``self`` whose ``layout`` is a
``LayoutRecorder``. Each call is checked against Blender's own description of
UILayout (function and argument names, icon names, properties of the data drawn, and
properties of the operators placed), so a typo that would raise in Blender raises
here too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

import bpy

LAYOUT_FUNCTIONS = bpy.types.UILayout.bl_rna.functions
LAYOUT_PROPERTIES = bpy.types.UILayout.bl_rna.properties


@dataclass
class Call:
    name: str
    arguments: dict
    operator: OperatorRecorder | None = None


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)

    def named(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]

    def texts(self) -> list[str]:
        """Return the ``text`` of every call that shows one, in drawing order."""
        return [call.arguments["text"] for call in self.calls if "text" in call.arguments]

    def joined_text(self) -> str:
        return " ".join(self.texts())

    def operators(self, idname: str) -> list[OperatorRecorder]:
        return [call.operator for call in self.named("operator") if call.operator.idname == idname]


class OperatorRecorder:
    """The operator properties ``layout.operator`` returns; rejects unknown names."""

    def __init__(self, idname: str):
        module, name = idname.split(".")
        rna = getattr(getattr(bpy.ops, module), name).get_rna_type()  # KeyError if unknown
        object.__setattr__(self, "idname", idname)
        object.__setattr__(self, "_names", set(rna.properties.keys()))
        object.__setattr__(self, "values", {})

    def __setattr__(self, name, value):
        if name not in self._names:
            raise AttributeError(f"operator {self.idname} has no property {name!r}")
        self.values[name] = value


class LayoutRecorder:
    def __init__(self, recording: Recording | None = None):
        object.__setattr__(self, "recording", recording or Recording())

    def __getattr__(self, name):
        function = LAYOUT_FUNCTIONS.get(name)
        if function is None:
            raise AttributeError(f"UILayout has no function {name!r}")

        def record(*args, **kwargs):
            arguments = _bind(function, args, kwargs)
            call = Call(name, arguments)
            if name == "operator":
                call.operator = OperatorRecorder(arguments["operator"])
            self.recording.calls.append(call)
            return _result(function, call, self.recording)

        return record

    def __setattr__(self, name, value):
        if name not in LAYOUT_PROPERTIES:
            raise AttributeError(f"UILayout has no property {name!r}")
        self.recording.calls.append(Call("set", {name: value}))


def _bind(function, args, kwargs) -> dict:
    inputs = [parameter for parameter in function.parameters if not parameter.is_output]
    names = [parameter.identifier for parameter in inputs]
    if len(args) > len(names):
        raise TypeError(f"UILayout.{function.identifier} takes {len(names)} arguments")
    arguments = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in names:
            raise TypeError(f"UILayout.{function.identifier} has no argument {name!r}")
        arguments[name] = value
    required = [p.identifier for p in inputs if p.is_required]
    missing = [name for name in required if name not in arguments]
    if missing:
        raise TypeError(f"UILayout.{function.identifier} needs {missing}")
    _check_values(function, arguments)
    return arguments


def _check_values(function, arguments: dict) -> None:
    for parameter in function.parameters:
        value = arguments.get(parameter.identifier)
        if parameter.type != "ENUM" or value is None:
            continue
        allowed = {item.identifier for item in parameter.enum_items}
        if value not in allowed:
            raise TypeError(
                f"UILayout.{function.identifier}: {value!r} is not a valid {parameter.identifier}"
            )
    if function.identifier == "prop":
        data, name = arguments["data"], arguments["property"]
        if name not in data.bl_rna.properties:
            raise TypeError(f"{data!r} has no property {name!r}")
    if function.identifier == "progress":
        factor = arguments.get("factor", 0.0)
        if not 0.0 <= factor <= 1.0:
            raise ValueError(f"progress factor {factor} is outside 0..1")


def _result(function, call: Call, recording: Recording):
    if call.operator is not None:
        return call.operator
    outputs = [parameter for parameter in function.parameters if parameter.is_output]
    output_type = getattr(outputs[0], "fixed_type", None) if outputs else None
    if output_type is not None and output_type.identifier == "UILayout":
        return LayoutRecorder(recording)
    return None


def fake_panel(layout: LayoutRecorder) -> SimpleNamespace:
    """Return a stand-in ``self`` for ``Panel.draw``."""
    return SimpleNamespace(layout=layout)


def fake_context(region_width: int = 300) -> SimpleNamespace:
    """Return a stand-in ``context`` with the real window manager and preferences."""
    return SimpleNamespace(
        window_manager=bpy.context.window_manager,
        preferences=bpy.context.preferences,
        scene=bpy.context.scene,
        region=SimpleNamespace(width=region_width),
    )

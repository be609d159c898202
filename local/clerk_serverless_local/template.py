"""Read a SAM ``template.yaml`` the way ``sam local invoke`` needs it.

Resolves what a function's runtime setup depends on: ``Globals`` merged into
each function, parameter defaults (and overrides), conditions, and the
intrinsics templates use for those values (``Ref``, ``Fn::If``, ``Fn::Sub``,
``Fn::Join``, ``Fn::Select``, ``Fn::Equals``/``Not``/``And``/``Or``). Anything
that only exists once deployed (``Fn::GetAtt``, resource ``Ref`` s other than
layers) resolves to a readable placeholder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/local/00000000",
    "AWS::NotificationARNs": [],
}
_NO_VALUE = object()


class TemplateError(Exception):
    """The template cannot be read, or a function in it cannot be run."""


def _loader() -> Any:
    try:
        import yaml
    except ImportError:
        raise TemplateError("reading template.yaml needs PyYAML: pip install 'clerk-serverless[local]'") from None

    class CfnLoader(yaml.SafeLoader):
        pass

    def construct(loader: Any, tag_suffix: str, node: Any) -> Any:
        name = "Ref" if tag_suffix == "Ref" else f"Fn::{tag_suffix}"
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    CfnLoader.add_multi_constructor("!", construct)
    return CfnLoader


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation YAML file, short-form intrinsics (``!Ref``) included."""
    import yaml

    try:
        document = yaml.load(path.read_text(), Loader=_loader())  # noqa: S506 - SafeLoader subclass
    except OSError as exc:
        raise TemplateError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TemplateError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError(f"{path} has no Resources section")
    return document


@dataclass
class FunctionSpec:
    """What running one function locally needs to know."""

    logical_id: str
    handler: str
    code_uri: Path
    runtime: str
    timeout: float
    memory: int
    architecture: str
    environment: dict[str, str]
    layers: list[str] = field(default_factory=list)  # local layer logical IDs
    external_layers: list[str] = field(default_factory=list)  # ARNs we cannot fetch
    events: dict[str, Any] = field(default_factory=dict)
    function_url: dict[str, Any] | None = None


class Template:
    """A SAM template with its parameters resolved."""

    def __init__(self, path: str | Path, parameter_overrides: dict[str, str] | None = None) -> None:
        self.path = Path(path).resolve()
        self.root = self.path.parent
        self.document = load_yaml(self.path)
        self.parameters = self._parameters(parameter_overrides or {})
        self.conditions: dict[str, bool] = {}
        for name in self.document.get("Conditions") or {}:
            self._condition(name)

    # -- public ----------------------------------------------------------------

    @property
    def resources(self) -> dict[str, Any]:
        return self.document["Resources"]

    def function_ids(self) -> list[str]:
        """Logical IDs of the ``AWS::Serverless::Function`` resources."""
        return [rid for rid, r in self.resources.items() if isinstance(r, dict) and r.get("Type") == "AWS::Serverless::Function"]

    def function(self, logical_id: str) -> FunctionSpec:
        """The resolved spec of one function; :class:`TemplateError` if unknown."""
        resource = self.resources.get(logical_id)
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            known = ", ".join(self.function_ids()) or "none"
            raise TemplateError(f"no function {logical_id!r} in {self.path.name} (functions: {known})")
        globals_ = (self.document.get("Globals") or {}).get("Function") or {}
        props = resource.get("Properties") or {}
        merged = {**globals_, **props}
        env: dict[str, str] = {}
        for source in (globals_, props):
            variables = ((source.get("Environment") or {}).get("Variables")) or {}
            for name, value in variables.items():
                resolved = self.resolve(value)
                if resolved is not _NO_VALUE:
                    env[name] = _as_env(resolved)
        handler = self.resolve(merged.get("Handler"))
        if not isinstance(handler, str) or not handler:
            raise TemplateError(f"{logical_id} has no Handler")
        code_uri = self.resolve(merged.get("CodeUri"))
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id} has no local CodeUri")
        layers, external = [], []
        for ref in list(globals_.get("Layers") or []) + list(props.get("Layers") or []):
            layer = self.resolve(ref)
            if layer is _NO_VALUE:
                continue
            if isinstance(layer, dict) and "LayerRef" in layer:
                layers.append(layer["LayerRef"])
            elif isinstance(layer, str):
                external.append(layer)
        archs = self.resolve(merged.get("Architectures")) or ["x86_64"]
        return FunctionSpec(
            logical_id=logical_id,
            handler=handler,
            code_uri=(self.root / code_uri).resolve(),
            runtime=str(self.resolve(merged.get("Runtime")) or "python3.13"),
            timeout=float(self.resolve(merged.get("Timeout")) or 3),
            memory=int(self.resolve(merged.get("MemorySize")) or 128),
            architecture=str(archs[0]),
            environment=env,
            layers=layers,
            external_layers=external,
            events={k: self.resolve(v) for k, v in (props.get("Events") or {}).items()},
            function_url=self.resolve(props.get("FunctionUrlConfig")) if props.get("FunctionUrlConfig") else None,
        )

    def layer_content(self, logical_id: str) -> Path:
        """The ``ContentUri`` directory of a local layer."""
        props = (self.resources.get(logical_id) or {}).get("Properties") or {}
        uri = self.resolve(props.get("ContentUri"))
        if not isinstance(uri, str):
            raise TemplateError(f"layer {logical_id} has no local ContentUri")
        return (self.root / uri).resolve()

    # -- resolution -------------------------------------------------------------

    def _parameters(self, overrides: dict[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.document.get("Parameters") or {}).items():
            spec = spec or {}
            raw = overrides.get(name, spec.get("Default"))
            if raw is None:
                raw = ""
            if spec.get("Type") == "CommaDelimitedList" or str(spec.get("Type", "")).startswith("List<"):
                values[name] = [] if raw == "" else [p.strip() for p in str(raw).split(",")] if isinstance(raw, str) else list(raw)
            else:
                values[name] = str(raw) if not isinstance(raw, str) else raw
        unknown = set(overrides) - set(values)
        if unknown:
            raise TemplateError(f"unknown parameter(s): {', '.join(sorted(unknown))}")
        return values

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            spec = (self.document.get("Conditions") or {}).get(name)
            if spec is None:
                raise TemplateError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(spec))
        return self.conditions[name]

    def resolve(self, value: Any) -> Any:
        """Evaluate intrinsics in ``value`` (``_NO_VALUE`` for ``AWS::NoValue``)."""
        if isinstance(value, list):
            items = [self.resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            handler = _INTRINSICS.get(key)
            if handler is not None:
                return handler(self, arg)
        resolved = {k: self.resolve(v) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not _NO_VALUE}

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if name in PSEUDO:
            return PSEUDO[name]
        resource = self.resources.get(name)
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Serverless::LayerVersion":
            return {"LayerRef": name}
        return f"<{name}>"

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, extra = arg[0], {k: self.resolve(v) for k, v in (arg[1] or {}).items()}
        else:
            text, extra = arg, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in extra:
                return _as_env(extra[name])
            if "." in name:
                return f"<{name}>"
            return _as_env(self._ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, text)


def _as_env(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_as_env(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict) and "LayerRef" in value:
        return f"<{value['LayerRef']}>"
    return "" if value is None else str(value)


def _if(t: Template, arg: Any) -> Any:
    name, yes, no = arg
    return t.resolve(yes if t._condition(name) else no)


_INTRINSICS: dict[str, Any] = {
    "Ref": lambda t, a: t._ref(a),
    "Condition": lambda t, a: t._condition(a),
    "Fn::If": _if,
    "Fn::Equals": lambda t, a: _as_env(t.resolve(a[0])) == _as_env(t.resolve(a[1])),
    "Fn::Not": lambda t, a: not t.resolve(a[0]),
    "Fn::And": lambda t, a: all(t.resolve(c) for c in a),
    "Fn::Or": lambda t, a: any(t.resolve(c) for c in a),
    "Fn::Sub": lambda t, a: t._sub(a),
    "Fn::Join": lambda t, a: a[0].join(_as_env(v) for v in t.resolve(a[1])),
    "Fn::Select": lambda t, a: (t.resolve(a[1]) or [""])[int(t.resolve(a[0]))],
    "Fn::Split": lambda t, a: _as_env(t.resolve(a[1])).split(a[0]),
    "Fn::GetAtt": lambda t, a: f"<{'.'.join(a) if isinstance(a, list) else a}>",
    "Fn::ImportValue": lambda t, a: f"<import:{t.resolve(a)}>",
    "Fn::Base64": lambda t, a: t.resolve(a),
}

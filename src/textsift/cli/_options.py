"""CLI flags generated from the config dataclasses, so no default or help text is written twice.

A command parameter annotated with a config class (`cfg: TrainConfig`) becomes one flag per field, nested configs
flattened (`TrainConfig.data.text_column` is `--text-column`). A flag's type and default are the field's, its help
is the field's entry in the `Attributes:` section of the class docstring (subclass entries win), and a `Literal`
field lists its choices. The command receives the config object built from the flags, checks included.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeGuard, TypeVar, Union, get_args, get_origin, get_type_hints

import typer

F = TypeVar("F", bound=Callable[..., Any])
_ENTRY = re.compile(r"^    (\w+): (.*)$")

# The positional arguments several commands share.
ModelDir = Annotated[Path, typer.Argument(help="Model folder.")]
TorchModelDir = Annotated[Path, typer.Argument(help="Model folder with torch weights (not an ONNX export).")]
LabelledFile = Annotated[Path, typer.Argument(help="Labelled CSV, TSV, JSONL or Parquet file.")]


@dataclass(frozen=True)
class Flag:
    """One CLI parameter standing for one config field, maybe of a nested config (`path` names the way down)."""

    path: tuple[str, ...]
    name: str
    annotation: Any
    default: Any
    help: str
    positional: bool = False
    factory: bool = False  # the field's default comes from a factory; an absent flag leaves it to the factory


def field_docs(cls: type) -> dict[str, str]:
    """The `Attributes:` entries of a dataclass and its bases, as one line each; a subclass's entry wins."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        docs.update(_attribute_entries(inspect.cleandoc(klass.__dict__.get("__doc__") or "")))
    return docs


def _attribute_entries(doc: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    current, inside = None, False
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            inside = True
        elif inside and (match := _ENTRY.match(line)):
            current = match[1]
            entries[current] = match[2].strip()
        elif inside and current and line.startswith("        "):
            entries[current] += " " + line.strip()
        elif inside and line.strip() and not line.startswith(" "):
            inside = False  # the next section or prose
    return entries


def flags(cls: type, *, positional: Sequence[str] = (), rename: dict[str, str] | None = None,
          skip: Sequence[str] = ()) -> list[Flag]:
    """One flag per field of `cls` (nested config dataclasses flattened), in field order."""
    rename = rename or {}
    hints, docs, out = get_type_hints(cls), field_docs(cls), []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if f.name in skip:
            continue
        if is_config(hint):
            nested = flags(hint, positional=positional, rename=rename, skip=skip)
            out += [dataclasses.replace(flag, path=(f.name, *flag.path)) for flag in nested]
            continue
        factory = f.default_factory is not dataclasses.MISSING
        default = f.default if f.default is not dataclasses.MISSING else (None if factory else inspect.Parameter.empty)
        out.append(Flag((f.name,), rename.get(f.name, f.name), hint, default, docs.get(f.name, ""),
                        f.name in positional, factory))
    return out


def is_config(annotation: Any) -> TypeGuard[type]:
    """A config dataclass (the class itself, not an instance)."""
    return isinstance(annotation, type) and dataclasses.is_dataclass(annotation)


def build(cls: type, flag_list: list[Flag], values: dict[str, Any]) -> Any:
    """The config object for parsed flag values."""
    tree: dict[str, Any] = {}
    for flag in flag_list:
        value = values[flag.name]
        if flag.factory and not value:
            continue
        node = tree
        for part in flag.path[:-1]:
            node = node.setdefault(part, {})
        node[flag.path[-1]] = list(value) if flag.factory else value
    return _construct(cls, tree)


def _construct(cls: type, tree: dict[str, Any]) -> Any:
    hints = get_type_hints(cls)
    return cls(**{name: _construct(hints[name], value) if isinstance(value, dict) else value
                  for name, value in tree.items()})


def configured(*, positional: Sequence[str] = (), rename: dict[str, str] | None = None,
               skip: Sequence[str] = ()) -> Callable[[F], F]:
    """Expand each parameter of a command annotated with a config dataclass into its flags.

    Args:
        positional: fields that are CLI arguments rather than --options, in this order.
        rename: field name -> flag name where the flag reads better (validation_file -> --validation).
        skip: fields the command does not offer.
    """

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)
        kept = [p for p in signature.parameters.values() if not is_config(p.annotation)]
        configs = {p.name: (p.annotation, flags(p.annotation, positional=positional, rename=rename, skip=skip))
                   for p in signature.parameters.values() if is_config(p.annotation)}
        generated = [flag for _, flag_list in configs.values() for flag in flag_list]
        names = [p.name for p in kept] + [flag.name for flag in generated]
        if len(set(names)) != len(names):
            raise TypeError(f"{command.__name__}: two flags share a name in {names}")
        arguments = sorted((f for f in generated if f.positional), key=lambda f: list(positional).index(f.path[-1]))
        parameters = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in kept]
        parameters += [_parameter(flag) for flag in arguments + [f for f in generated if not f.positional]]

        @functools.wraps(command)
        def run(**values: Any) -> Any:
            kwargs = {p.name: values[p.name] for p in kept}
            kwargs.update({name: build(cls, flag_list, values) for name, (cls, flag_list) in configs.items()})
            return command(**kwargs)

        run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        run.config_flags = generated  # type: ignore[attr-defined]  # what the flags stand for, for the tests
        return run  # type: ignore[return-value]

    return decorate


def _parameter(flag: Flag) -> inspect.Parameter:
    annotation, choices = _cli_type(flag.annotation)
    metavar = "[" + "|".join(choices) + "]" if choices else None
    info = (typer.Argument(help=flag.help, metavar=metavar) if flag.positional
            else typer.Option(help=flag.help, metavar=metavar))
    return inspect.Parameter(flag.name, inspect.Parameter.KEYWORD_ONLY, default=flag.default,
                             annotation=Annotated[annotation, info])


def _cli_type(hint: Any) -> tuple[Any, list[str]]:
    """The type typer parses into, and the choices of a Literal (which the config's own checks enforce)."""
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    base = next(a for a in get_args(hint) if a is not type(None)) if optional else hint
    choices: list[str] = []
    if get_origin(base) is Literal:
        choices = [str(c) for c in get_args(base)]
        base = str
    return (base | None if optional else base), choices

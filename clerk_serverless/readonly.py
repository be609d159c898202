"""Read-only JSON: verified claims that many requests share stay as verified.

A verified token's claims are cached and handed to every request that
presents the same token; a handler (or a helper it calls) editing them in
place would change what later requests see, and their verdicts.
:func:`frozen_json` makes a deep copy that refuses every change yet still is
the decoded JSON it was: ``dict`` and ``list`` subclasses that ``json.dumps``,
``==`` and ``isinstance`` take as such (a ``mappingproxy`` or a tuple does
none of these).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def _read_only(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise TypeError("verified claims are read-only; edit a copy (dict(claims), list(values))")


class ReadOnlyDict(dict):  # type: ignore[type-arg]
    """A ``dict`` that refuses every change: shared, verified claims stay as
    verified, yet still serialise with ``json.dumps``, compare equal to plain
    dicts and pass ``isinstance(…, dict)`` as decoded JSON does (a
    ``mappingproxy`` does none of these). ``dict(d)``, ``copy.copy`` and
    ``copy.deepcopy`` give plain, writable copies."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    # Filled by __new__; __init__ does nothing, so calling it again on a
    # shared instance (dict.__init__ updates in place) changes nothing.
    def __new__(cls, *args: Any, **kwargs: Any) -> ReadOnlyDict:
        self = dict.__new__(cls)
        dict.update(self, *args, **kwargs)
        return self

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __reduce__(self) -> tuple[Any, ...]:  # copy, deepcopy and pickle: a plain dict
        return dict, (dict(self),)


class ReadOnlyList(list):  # type: ignore[type-arg]
    """A ``list`` that refuses every change (see :class:`ReadOnlyDict`): a
    claim's array still equals the list it was, and is still a ``list``."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _read_only
    append = extend = insert = remove = pop = clear = sort = reverse = _read_only

    # As ReadOnlyDict: list.__init__ clears and refills in place.
    def __new__(cls, iterable: Any = ()) -> ReadOnlyList:
        self = list.__new__(cls)
        list.extend(self, iterable)
        return self

    def __init__(self, iterable: Any = ()) -> None:
        pass

    def __reduce__(self) -> tuple[Any, ...]:
        return list, (list(self),)


def frozen_json(value: Any) -> Any:
    """A read-only deep copy of decoded JSON (objects as :class:`ReadOnlyDict`,
    arrays as :class:`ReadOnlyList`), however deeply nested."""
    try:
        return _frozen(value)
    except RecursionError:
        return _copy_deep(value, ReadOnlyDict, ReadOnlyList)


def plain_json(value: Any) -> Any:
    """:func:`frozen_json` undone: a fresh, writable, JSON-ready copy."""
    try:
        return _plain(value)
    except RecursionError:
        return _copy_deep(value, dict, list)


# The recursive copies: fast, for the claims every token carries.
def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ReadOnlyDict({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return ReadOnlyList([_frozen(item) for item in value])
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _copy_deep(value: Any, as_dict: Any, as_list: Any) -> Any:
    """The same copy without recursion: JSON the decoder accepted may nest
    deeper than this stack allows (a session token's custom claims, an API
    key's ``claims``), and must not turn a valid token into an exception."""
    containers = (Mapping, list, tuple)
    if not isinstance(value, containers):
        return value
    # Depth-first: each container's copy is built once its children's are.
    done: dict[int, Any] = {}
    stack: list[tuple[Any, bool]] = [(value, False)]
    while stack:
        node, expanded = stack.pop()
        if not expanded:
            stack.append((node, True))
            items = node.values() if isinstance(node, Mapping) else node
            stack.extend((item, False) for item in items if isinstance(item, containers) and id(item) not in done)
            continue
        if isinstance(node, Mapping):
            done[id(node)] = as_dict(
                {key: done[id(item)] if isinstance(item, containers) else item for key, item in node.items()}
            )
        else:
            done[id(node)] = as_list([done[id(item)] if isinstance(item, containers) else item for item in node])
    return done[id(value)]


__all__ = ["ReadOnlyDict", "ReadOnlyList", "frozen_json", "plain_json"]

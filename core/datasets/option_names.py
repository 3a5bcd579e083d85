"""Where each data option is set, in the words of each place that sets it.

One option has three spellings: the Python keyword (``datasets.load(..., labels="y")``), the Data page's
box ('Labels') and the command line (``--data-option labels=y``). Messages about an option name it through
``where_set`` so that a notebook user, a page user and a CLI user each read what they would type.
"""

from __future__ import annotations


# option -> (where the Data page sets it, the CLI's spelling with {value} where its value goes)
PLACES: dict[str, tuple[str, str]] = {
    "key": ("the 'Array / tensor' box", "--data-option key={value}"),
    "tensor": ("the 'Array / tensor' box", "--data-option tensor={value}"),
    "texts": ("the 'Texts' box", "--data-option texts={value}"),
    "labels": ("the 'Labels' box", "--data-option labels={value}"),
    "n_samples": ("the 'Samples' box", "--n-samples {value}"),
    "seed": ("the 'Seed' box", "--seed {value}"),
    "scale": ("the 'Scale' box", "--data-option scale={value}"),
    "center": ("the 'Center' switch", "--data-option center={value}"),
    "image_shape": ("the 'Picture height' and 'Picture width' boxes", "--data-option image_shape={value}"),
    "as_vectors": ("the 'Samples are' choice", "--data-option as_vectors={value}"),
}
# The page's words for an option's values where they are not the value itself
PAGE_VALUES: dict[str, dict] = {"as_vectors": {True: "vectors", False: "pictures (H x W)"}}
# How the page and the CLI leave an option unset (=None) where it is not "left empty" and "not given"
UNSET: dict[str, tuple[str, str]] = {
    "n_samples": ("the 'Samples' box at 0", "no --n-samples"),
    "image_shape": ("both picture boxes at 0", "no --data-option image_shape"),
}


def page_label(option: str) -> str:
    """A built-in set's option as the Data page labels its box: 'n_atoms' -> 'N atoms', 'non_negative' ->
    'Non-negative'; a one-letter name keeps its case (the k of k-sparse codes is not a K)."""
    words = option.replace("non_", "non-").replace("_", " ")
    return words if len(words) == 1 else words[0].upper() + words[1:]


def page_place(option: str) -> str:
    """Where the Data page sets ``option``: "the 'Labels' box"."""
    return PLACES[option][0] if option in PLACES else f"the '{page_label(option)}' box"


def _spelled(value, python: bool) -> str:
    """A value as Python (``(28, 28)``, ``'minmax'``) or the CLI (``[28,28]``, ``minmax``) writes it; an
    upper-case string is a placeholder (NAME, HEIGHT) and stays bare."""
    if isinstance(value, (tuple, list)):
        inner = [_spelled(item, python) for item in value]
        return f"({', '.join(inner)})" if python else f"[{','.join(inner)}]"
    if isinstance(value, str):
        return repr(value) if python and not value.isupper() else value
    if python or not (isinstance(value, bool) or value is None):
        return str(value)
    return str(value).lower()


def cli_spelling(option: str, value="VALUE") -> str:
    """The command line's way to give ``option`` the (Python) ``value``: a bool as true/false, None as none,
    a pair as a list (the CLI reads a data option's value as JSON or a bare word)."""
    template = PLACES.get(option, ("", f"--data-option {option}={{value}}"))[1]
    return template.format(value=_spelled(value, python=False))


def places(option: str, value="VALUE") -> str:
    """Where the page and the CLI set ``option``: "on the Data page: the 'Labels' box; in the CLI:
    --data-option labels=VALUE"; for ``value`` None, how each leaves it unset."""
    if value is None:
        page, cli = UNSET.get(option, (f"{page_place(option)} left empty", f"no --data-option {option}"))
    else:
        said = PAGE_VALUES.get(option, {}).get(value) if isinstance(value, bool) else None
        page = page_place(option) + (f" at '{said}'" if said else "")
        cli = cli_spelling(option, value)
    return f"on the Data page: {page}; in the CLI: {cli}"


def where_set(option: str, value="VALUE") -> str:
    """``option=value`` in the words of all three places, e.g. "labels=NAME (on the Data page: the 'Labels'
    box; in the CLI: --data-option labels=NAME)"."""
    return f"{option}={_spelled(value, python=True)} ({places(option, value)})"

#!/usr/bin/python3
# adds facts from a Python step (the demo pipeline's pyfacts:collect)
#
# A step in Python 3 with PyYAML: the clipboard arrives as YAML on stdin and the whole new
# clipboard goes to stdout. PyYAML speaks YAML 1.1 (where `no` is false, `0777` is octal and
# dates become datetimes) while jarvis reads YAML 1.2's core schema, so this step loads and dumps
# with 1.2 core rules; otherwise passing the clipboard through Python would change its values.
import platform
import re
import sys

import yaml

EX_USAGE = 64


class CoreLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema scalars."""


class CoreDumper(yaml.SafeDumper):
    """SafeDumper that quotes exactly the strings a YAML 1.2 core reader would not read back as strings."""


CORE_RESOLVERS = [
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", list("~nN") + [""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
]

# Replace (not extend) the 1.1 resolvers; this also drops merge keys (`<<`), which the core schema lacks.
for cls in (CoreLoader, CoreDumper):
    cls.yaml_implicit_resolvers = {}
    for tag, pattern, first in CORE_RESOLVERS:
        cls.add_implicit_resolver(tag, re.compile(pattern), first)


def construct_core_int(loader, node):
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    # YAML 1.2: a leading zero is still decimal (1.1 would read 0777 as octal).
    return int(text, 10)


CoreLoader.add_constructor("tag:yaml.org,2002:int", construct_core_int)


def collect(clipboard):
    facts = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "keys": len([k for k in clipboard if k != "pyfacts"]),
    }
    out = dict(clipboard)
    out["pyfacts"] = facts
    return out


TASKS = {"collect": collect}


def main(argv):
    task = argv[1] if len(argv) > 1 else ""
    if task not in TASKS:
        print(f"pyfacts: unknown task '{task}'; this module offers: {', '.join(TASKS)}", file=sys.stderr)
        return EX_USAGE
    text = sys.stdin.read()
    try:
        clipboard = yaml.load(text, Loader=CoreLoader) if text.strip() else {}
    except yaml.YAMLError as err:
        print(f"pyfacts: the clipboard on stdin is not valid YAML: {str(err).splitlines()[0]}", file=sys.stderr)
        return 1
    if clipboard is None:
        clipboard = {}
    if not isinstance(clipboard, dict):
        print(f"pyfacts: the clipboard must be a mapping, got a {type(clipboard).__name__}", file=sys.stderr)
        return 1
    result = TASKS[task](clipboard)
    sys.stdout.write(yaml.dump(result, Dumper=CoreDumper, sort_keys=False, default_flow_style=False, allow_unicode=True))
    print(f"pyfacts: python {platform.python_version()}, {result['pyfacts']['keys']} top-level keys", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

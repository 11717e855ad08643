# The Debian aws CLI's own entry point (what /usr/bin/aws calls), run once per request line in one resident interpreter: each command pays its own driver and session, not Python's start, the CLI's imports and its data files' parsing again.
#
# Requests come on stdin, one JSON list of arguments per line (without "aws"); each answer is
# one JSON line on file descriptor 3: {"rc": exit code, "stdout": ..., "stderr": ...}. What a
# command prints goes to buffers swapped in for sys.stdout and sys.stderr, as the CLI writes
# through them (awscli.compat.get_stdout_text_writer returns sys.stdout).
import io
import json
import os
import sys

from awscli.clidriver import AWSCLIEntryPoint

# After awscli's import: it is what makes its own botocore importable as `botocore`.
import botocore.session
from botocore.loaders import create_loader

answers = os.fdopen(3, "w", encoding="utf-8")

# One data loader for every session, by data path: the CLI's JSON models and the list of services
# are read and parsed once in this interpreter, not once per command (measured: 0.17 s of CPU a
# command before, 0.05-0.09 s after). The loader only reads the installation's data files (nothing
# in this CLI changes what it returns), and each command still gets its own driver, session,
# client, argument parsing, signing and output, as a process would.
loaders = {}


def shared_data_loader(session):
    def loader():
        path = session.get_config_variable("data_path")
        if path not in loaders:
            loaders[path] = create_loader(path)
        return loaders[path]

    session._components.lazy_register_component("data_loader", loader)


botocore.session.Session._register_data_loader = shared_data_loader


def captured():
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True)


for line in sys.stdin:
    args = json.loads(line)
    out, err = captured(), captured()
    sys.stdout, sys.stderr = out, err
    try:
        rc = AWSCLIEntryPoint().main(args)
    except SystemExit as exit_:
        # argparse and a few commands exit instead of returning their code.
        rc = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    answers.write(
        json.dumps(
            {
                "rc": rc,
                "stdout": out.buffer.getvalue().decode("utf-8", "replace"),
                "stderr": err.buffer.getvalue().decode("utf-8", "replace"),
            }
        )
        + "\n"
    )
    answers.flush()

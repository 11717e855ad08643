# The Debian aws CLI's own entry point (what /usr/bin/aws calls), run once per request line in one resident interpreter: each command pays its own driver and session, not Python's start and the CLI's imports again.
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

answers = os.fdopen(3, "w", encoding="utf-8")


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

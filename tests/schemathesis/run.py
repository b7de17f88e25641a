"""Schema-driven API tests: schemathesis against the OpenAPI document a running
server serves.

Starts `portcullis serve` (the binary given as the first argument) on a fresh SQLite
database in a temporary directory, creates an administrator with `portcullis admin
create`, signs in, and runs schemathesis on every operation with that bearer token: no
5xx, and every response conforms to the documented status codes, content types, headers
and schemas. `make api-test` (part of `make test`) runs it with a bounded number of
examples per operation; `API_TEST_EXAMPLES` and `API_TEST_SEED` change them.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

PASSWORD = "correct horse battery staple 7f3a"
# One administrator per pass: the first pass's wrong re-authentication passwords lock its
# account out of logging in again.
ADMINS = ["admin@example.com", "second-admin@example.com"]

# Which checks run, and why some do not: schemathesis.toml next to this file.
CONFIG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")

# Operations that end the session the run authenticates with (the stateful phase finds the
# caller's own session id in GET /auth/sessions): they run last, in a pass of their own.
SESSION_ENDING_PATHS = ["/api/v1/auth/logout", "/api/v1/auth/sessions/{id}"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(base, server, deadline=60.0):
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        if server.poll() is not None:
            sys.exit(f"api-test: the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    sys.exit("api-test: the server did not become ready within 60 s")


def login(base, email):
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    req = urllib.request.Request(
        f"{base}/api/v1/auth/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.load(res)["access_token"]


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: run.py PORTCULLIS_BINARY SCHEMATHESIS_BINARY")
    binary, schemathesis = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    examples = os.environ.get("API_TEST_EXAMPLES", "25")
    seed = os.environ.get("API_TEST_SEED", "1")
    with tempfile.TemporaryDirectory(prefix="portcullis-api-test-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PORTCULLIS__SERVER__ADDR": f"127.0.0.1:{port}",
            "PORTCULLIS__SERVER__PUBLIC_URL": base,
            "DATABASE_URL": f"sqlite://{tmp}/api.db",
            "PORTCULLIS__MAILER__TRANSPORT": "file",
            "PORTCULLIS__MAILER__DIR": f"{tmp}/mail",
            "PORTCULLIS__TOKENS__KEY_FILE": f"{tmp}/token.key",
            "PORTCULLIS__TOKENS__HASH_KEY_FILE": f"{tmp}/hash.key",
            "PORTCULLIS__MFA__SECRET_KEY_FILE": f"{tmp}/mfa.key",
            # One client sends everything: the per-IP limit would answer most calls 429.
            "PORTCULLIS__LIMITS__REQUESTS_PER_IP_PER_MINUTE": "1000000",
            "PORTCULLIS__LOG__FILTER": "warn",
        }
        for email in ADMINS:
            created = subprocess.run(
                [binary, "admin", "create", "--email", email, "--name", "API Test"],
                input=PASSWORD + "\n",
                env=env,
                capture_output=True,
                text=True,
                cwd=tmp,
            )
            if created.returncode != 0:
                sys.exit(f"api-test: admin create failed: {created.stderr}")
        log = open(f"{tmp}/server.log", "w")
        server = subprocess.Popen([binary, "serve"], env=env, cwd=tmp, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(base, server)
            common = [
                "--max-examples",
                examples,
                "--seed",
                seed,
                "--workers",
                "2",
                "--request-timeout",
                "30",
                "--no-color",
                # No examples database between runs: the same seed gives the same run.
                "--generation-database",
                "none",
            ]
            tokens = [login(base, email) for email in ADMINS]
            returncodes = []
            for token, selection in zip(tokens, (
                [arg for path in SESSION_ENDING_PATHS for arg in ("--exclude-path", path)],
                [arg for path in SESSION_ENDING_PATHS for arg in ("--include-path", path)],
            )):
                command = [schemathesis, "--config-file", CONFIG, "run", f"{base}/api/v1/openapi.json", "--url", base]
                command += common + selection + ["--header", f"Authorization: Bearer {token}"]
                returncodes.append(subprocess.run(command).returncode)
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
            log.close()
        with open(f"{tmp}/server.log") as f:
            output = f.read()
        if "panicked" in output:
            print(output)
            sys.exit("api-test: the server panicked")
        sys.exit(max(returncodes))


if __name__ == "__main__":
    main()

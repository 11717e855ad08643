// Makes sure the Debian aws CLI, our independent client for the local stack tests, is installed.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const AWS = "/usr/bin/aws";
if (!existsSync(AWS)) {
  if (process.getuid?.() !== 0) {
    console.error(
      `${AWS} is missing: run 'sudo apt-get install -y awscli' (the integration tests use it).`,
    );
    process.exit(1);
  }
  console.error(`${AWS} is missing: installing Debian's awscli for the integration tests...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "awscli"], { stdio: "inherit", env });
}

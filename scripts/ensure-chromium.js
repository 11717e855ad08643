// Makes sure Debian's chromium, the browser the console's end-to-end test drives, is installed.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

const CHROMIUM = "/usr/bin/chromium";
if (!existsSync(CHROMIUM)) {
  if (process.getuid?.() !== 0) {
    console.error(
      `${CHROMIUM} is missing: run 'sudo apt-get install -y chromium' (the console's end-to-end test uses it).`,
    );
    process.exit(1);
  }
  console.error(`${CHROMIUM} is missing: installing Debian's chromium for the console test...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], {
    stdio: "inherit",
    env,
  });
}

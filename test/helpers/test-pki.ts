/**
 * Certificates for tests of TLS to real servers, made with openssl in a folder: two CAs ("ca" and
 * "other-ca", for a wrong-CA case), a server certificate for 127.0.0.1/localhost and a client
 * certificate, both signed by "ca". Files: `<name>.pem` and `<name>.key`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Make the CAs and certificates in `dir` (created), and return it. */
export function makeTestPki(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]): void => {
    execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });
  };
  for (const ca of ["ca", "other-ca"]) {
    openssl(
      ...["req", "-x509", "-newkey", "ed25519", "-nodes", "-keyout", `${ca}.key`, "-out", `${ca}.pem`],
      ...["-days", "2", "-subj", `/CN=jarvis test ${ca}`],
    );
  }
  const certificate = (name: string, ext: string): void => {
    openssl(
      ...["req", "-newkey", "ed25519", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`],
      ...["-subj", `/CN=${name}`],
    );
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(
      ...["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial"],
      ...["-out", `${name}.pem`, "-days", "2", "-extfile", `${name}.ext`],
    );
  };
  certificate("server", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  certificate("client", "extendedKeyUsage=clientAuth\n");
  return dir;
}

/** nats-server's `tls` block: its certificate, and client certificates verified against "ca". */
export function natsTlsBlock(pki: string): string {
  return `tls { cert_file: "${join(pki, "server.pem")}", key_file: "${join(pki, "server.key")}", ca_file: "${join(pki, "ca.pem")}", verify: true, timeout: 5 }`;
}

/**
 * Why a connection to nats-server failed, in words an operator can act on. Node's TLS errors say
 * "unable to verify the first certificate"; what to fix is the CA file (or the server's name in
 * its certificate). Shared by the agent, jarvis's agents connection and agent:install.
 */

/** Node's codes for a server certificate that the configured CA does not vouch for. */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_SIGNATURE_FAILURE",
]);

export function natsConnectProblem(err: unknown, caFile: string | undefined): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = err && typeof err === "object" && "code" in err ? err.code : undefined;
  if (typeof code === "string" && UNTRUSTED.has(code)) {
    return caFile
      ? `nats-server's TLS certificate is not signed by the CA in ${caFile} (${message}); tls.ca must be the CA that signed the server's certificate`
      : `nats-server requires TLS and its certificate is not signed by a CA this machine trusts (${message}); set tls.ca to the CA that signed it`;
  }
  if (code === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return `nats-server's TLS certificate does not name the host in the URL (${message}); connect by a name the certificate lists`;
  }
  if (code === "CERT_HAS_EXPIRED") return `nats-server's TLS certificate has expired (${message})`;
  return message;
}

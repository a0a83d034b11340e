/**
 * vim25 faults as typed ProviderErrors: each known fault gets a stable code, a message that says
 * what to do, and whether trying again could help. The fault's type comes from the detail
 * element's `xsi:type` (or its element name, `InvalidLoginFault`), never from the message text.
 */
import { ProviderError } from "../../errors.js";
import { attrOf, child, isXmlObject, textOf } from "./xml.js";
import type { XmlObject } from "./xml.js";

/** A fault as the server reported it. */
export interface VimFault {
  /** The vim25 fault type, e.g. `InvalidLogin`, `DuplicateName`. */
  type: string;
  /** The server's message (faultstring or localizedMessage); may be empty. */
  message: string;
}

/** Read the fault of a SOAP `Fault` element (a failed call). */
export function soapFault(fault: XmlObject): VimFault {
  const message = textOf(fault, "faultstring") ?? "";
  const detail = child(fault, "detail");
  const first = detail
    ? Object.entries(detail).find(([k, v]) => !k.startsWith("@") && isXmlObject(v))
    : undefined;
  if (!first) return { type: "unknown", message };
  const [element, body] = first;
  const type = typeFrom(attrOf(body, "xsi:type")) ?? element.replace(/Fault$/, "");
  return { type, message };
}

/** Read a task's `info.error` (a LocalizedMethodFault). */
export function taskFault(error: XmlObject): VimFault {
  const fault = child(error, "fault");
  return {
    type: typeFrom(attrOf(fault, "xsi:type")) ?? "unknown",
    message: textOf(error, "localizedMessage") ?? "",
  };
}

function typeFrom(xsiType: string | undefined): string | undefined {
  return xsiType ? xsiType.replace(/^[^:]*:/, "") : undefined;
}

/**
 * The ProviderError for a fault met while doing `what`. NotAuthenticated is handled by the
 * client (one re-login); it only arrives here when the fresh session was refused too.
 */
export function faultError(fault: VimFault, what: string): ProviderError {
  const said = fault.message ? `: ${fault.message}` : "";
  switch (fault.type) {
    case "InvalidLogin":
      return new ProviderError(
        "E_PROVIDER_AUTH",
        `vmware: login refused (InvalidLogin${said}); check VSPHERE_USER and VSPHERE_PASSWORD in modules.vmware.env of jarvis.yml`,
      );
    case "NotAuthenticated":
    case "NoPermission":
      return new ProviderError(
        "E_PROVIDER_FORBIDDEN",
        `vmware: ${what} not allowed for this account (${fault.type}${said}); grant it the privileges listed in docs/providers.md`,
      );
    case "DuplicateName":
      return new ProviderError(
        "E_PROVIDER_DUPLICATE",
        `vmware: ${what}: the name is taken already (DuplicateName${said}); another VM or template has it`,
      );
    case "InvalidState":
    case "InvalidPowerState":
    case "TaskInProgress":
    case "InvalidHostState":
      // Another operation or a changing power state: it passes, so the step can be retried.
      return new ProviderError(
        "E_PROVIDER_STATE",
        `vmware: ${what} refused in the VM's current state (${fault.type}${said}); the step can be retried`,
        { retryable: true },
      );
    case "ManagedObjectNotFound":
      return new ProviderError(
        "E_PROVIDER_NOT_FOUND",
        `vmware: ${what}: the object is gone (${fault.type}${said})`,
      );
    case "InsufficientResourcesFault":
    case "OutOfBounds":
    case "NoDiskSpace":
      return new ProviderError(
        "E_PROVIDER_QUOTA",
        `vmware: ${what} refused: not enough resources (${fault.type}${said}); pick another cluster, host or datastore`,
      );
    case "RequestCanceled":
    case "HostCommunication":
    case "HostNotConnected":
    case "SystemError":
      return new ProviderError("E_PROVIDER_UNAVAILABLE", `vmware: ${what} failed (${fault.type}${said})`, {
        retryable: true,
      });
    default:
      return new ProviderError(
        "E_PROVIDER_INPUT",
        `vmware: ${what} refused (${fault.type}${said}); check the design's instance fields and modules.vmware.with`,
      );
  }
}

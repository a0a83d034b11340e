/**
 * Debian version ordering, as dpkg implements it (lib/dpkg/version.c `dpkg_version_compare`,
 * `verrevcmp`; lib/dpkg/parsehelp.c `parseversion`): `[epoch:]upstream[-revision]`, the epoch
 * compared as a number, then upstream and revision each by alternating runs of non-digits
 * (letters before everything else, `~` before even the end of the string) and digits (compared as
 * numbers, leading zeros ignored). Selectors compare package versions with it
 * (`packages.apache2<2.4.50`), so `2.4.9 < 2.4.50` and `2.4.50~rc1 < 2.4.50` as apt sees them.
 */
import { VersionError } from "../errors.js";

/** A version split as dpkg splits it. */
export interface DebianVersion {
  epoch: number;
  upstream: string;
  /** Empty when the version has no `-revision` (dpkg treats it like "0"). */
  revision: string;
}

/** dpkg keeps the epoch in an int. */
const MAX_EPOCH = 2 ** 31 - 1;

/**
 * Split a version as dpkg's parseversion does, refusing what it refuses (its errors, not its
 * warnings: a version not starting with a digit, or with odd characters, still compares).
 */
export function parseDebianVersion(text: string): DebianVersion {
  const trimmed = text.trim();
  if (trimmed === "") throw new VersionError("E_VERSION_SYNTAX", "version string is empty");
  if (/\s/u.test(trimmed)) {
    throw new VersionError("E_VERSION_SYNTAX", `version '${trimmed}' has embedded spaces`);
  }
  let rest = trimmed;
  let epoch = 0;
  const colon = rest.indexOf(":");
  if (colon >= 0) {
    const epochText = rest.slice(0, colon);
    if (!/^[0-9]+$/.test(epochText)) {
      throw new VersionError(
        "E_VERSION_SYNTAX",
        `epoch in version '${trimmed}' is not a number (write epoch:upstream-revision, e.g. 1:2.4.50-1)`,
      );
    }
    epoch = Number(epochText);
    if (epoch > MAX_EPOCH) {
      throw new VersionError("E_VERSION_SYNTAX", `epoch in version '${trimmed}' is too big`);
    }
    rest = rest.slice(colon + 1);
    if (rest === "") {
      throw new VersionError("E_VERSION_SYNTAX", `nothing after colon in version '${trimmed}'`);
    }
  }
  let revision = "";
  const hyphen = rest.lastIndexOf("-");
  if (hyphen >= 0) {
    revision = rest.slice(hyphen + 1);
    rest = rest.slice(0, hyphen);
    if (revision === "") {
      throw new VersionError("E_VERSION_SYNTAX", `revision number in version '${trimmed}' is empty`);
    }
  }
  if (rest === "") throw new VersionError("E_VERSION_SYNTAX", `version number in '${trimmed}' is empty`);
  return { epoch, upstream: rest, revision };
}

/** Negative, zero or positive as `a` sorts before, with or after `b`. */
export function compareDebianVersions(a: DebianVersion, b: DebianVersion): number {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch ? -1 : 1;
  return Math.sign(verrevcmp(a.upstream, b.upstream)) || Math.sign(verrevcmp(a.revision, b.revision));
}

/** Compare two version strings; throws VersionError when either is not a version dpkg accepts. */
export function compareVersionStrings(a: string, b: string): number {
  return compareDebianVersions(parseDebianVersion(a), parseDebianVersion(b));
}

const isDigit = (code: number): boolean => code >= 48 && code <= 57;
const isAlpha = (code: number): boolean => (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
const TILDE = 126;

/** dpkg's `order`: the end of the string (0) sorts after `~` and before letters and the rest. */
function order(code: number): number {
  if (code === 0 || isDigit(code)) return 0;
  if (isAlpha(code)) return code;
  if (code === TILDE) return -1;
  return code + 256;
}

/** dpkg's verrevcmp over UTF-16 code units (a version's characters are ASCII; others sort last). */
function verrevcmp(a: string, b: string): number {
  // Reading past the end gives 0, as C's terminating NUL does.
  const at = (s: string, i: number): number => (i < s.length ? s.charCodeAt(i) : 0);
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(at(a, i))) || (j < b.length && !isDigit(at(b, j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) === 48) i++;
    while (at(b, j) === 48) j++;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (firstDiff === 0) firstDiff = at(a, i) - at(b, j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

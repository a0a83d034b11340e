// jarvis does not enable Matrix end-to-end encryption. matrix-bot-sdk requires this package at
// load time but only touches it when a crypto store is configured; anything that does reach for
// it gets a clear error instead of a missing native binary.
"use strict";
const refuse = (name) =>
  new Proxy(function () {}, {
    get: (_t, prop) => (prop === "prototype" ? {} : refuse(`${name}.${String(prop)}`)),
    construct: () => {
      throw new Error(`${name}: Matrix end-to-end encryption is not supported by this jarvis build`);
    },
    apply: () => {
      throw new Error(`${name}: Matrix end-to-end encryption is not supported by this jarvis build`);
    },
  });
module.exports = new Proxy({}, { get: (_t, prop) => (prop === "__esModule" ? false : refuse(String(prop))) });

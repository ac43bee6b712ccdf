// The official SDK's ASN.1 code (asn1.js via @aws-crypto/serialize) uses Node's `Buffer`;
// browser bundles must provide it (webpack 4 did so silently). Injected by esbuild.
export { Buffer } from "buffer";

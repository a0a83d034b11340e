/**
 * Request validation with the same zod checks and plain messages as jarvis.yml (schema-problem.ts):
 * a 400 names the field (`body.force: must be true or false, got a string`) and never echoes the
 * value, which may be a secret typed in the wrong place.
 */
import type { FastifySchemaCompiler } from "fastify";
import type { z } from "zod";
import { ApiError } from "../errors.js";
import { check } from "../schema/schema-problem.js";

const PLACE: Readonly<Record<string, string>> = {
  body: "body",
  querystring: "query",
  params: "path",
  headers: "header",
};

/** fastify's validatorCompiler over zod schemas. */
export const zodValidator: FastifySchemaCompiler<z.ZodType> = ({ schema, httpPart }) => {
  const place = PLACE[httpPart ?? "body"] ?? "request";
  return (data: unknown) => {
    const result = check(schema, data ?? (httpPart === "body" ? undefined : {}), {
      label: place,
      noun: "field",
    });
    if (result.ok) return { value: result.data };
    return { error: new ApiError("E_API_INPUT", result.problem.message) };
  };
};

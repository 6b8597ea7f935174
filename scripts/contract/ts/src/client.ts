// A typed toko client: openapi-fetch over the types openapi-typescript generated from
// openapi.json (`npm run generate` writes generated/toko.d.ts). This is how a front-end uses it.

import createClient, { type Middleware } from "openapi-fetch";

import type { components, paths } from "../generated/toko.js";

export type Schemas = components["schemas"];
export type TokoClient = ReturnType<typeof createClient<paths>>;

/** A client for `baseUrl`; with `bearer`, every request carries `Authorization: Bearer`. */
export function tokoClient(baseUrl: string, bearer?: string): TokoClient {
  const client = createClient<paths>({ baseUrl });
  if (bearer) {
    client.use(header("Authorization", `Bearer ${bearer}`));
  }
  return client;
}

/** A client for a guest cart: its token goes in `X-Cart-Token` (the spec's `cartToken` scheme). */
export function guestCartClient(baseUrl: string, cartToken: string): TokoClient {
  const client = createClient<paths>({ baseUrl });
  client.use(header("X-Cart-Token", cartToken));
  return client;
}

function header(name: string, value: string): Middleware {
  return {
    onRequest({ request }) {
      request.headers.set(name, value);
      return request;
    },
  };
}

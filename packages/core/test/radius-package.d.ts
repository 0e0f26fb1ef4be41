/**
 * The parts of the `radius` npm package (CommonJS, no type definitions) the tests use as an independent RADIUS
 * implementation to cross-check otpgate's codec.
 */
declare module 'radius' {
  type AttributeList = Array<[string | number, unknown] | [string | number, unknown, unknown]>;

  interface DecodedPacket {
    code: string;
    identifier: number;
    length: number;
    authenticator: Buffer;
    attributes: Record<string, unknown>;
    raw_attributes: Array<[number, Buffer]>;
  }

  interface EncodeArgs {
    code: string;
    secret: string;
    identifier?: number;
    authenticator?: Buffer;
    attributes?: AttributeList;
    add_message_authenticator?: boolean;
  }

  interface Radius {
    encode(args: EncodeArgs): Buffer;
    decode(args: { packet: Buffer; secret: string }): DecodedPacket;
    decode_without_secret(args: { packet: Buffer }): DecodedPacket;
    verify_response(args: { response: Buffer; request: Buffer; secret: string }): boolean;
  }

  const radius: Radius;
  export default radius;
}

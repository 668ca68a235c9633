/**
 * A minimal protocol-buffers wire encoder: varints, fixed32 floats and length-delimited fields, enough to write
 * onnx.ModelProto without a protobuf library. Fields are written in the order the caller gives them, which
 * every parser accepts. Repeated scalars are written unpacked (proto2's default encoding; parsers accept both).
 */

const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

export class ProtoWriter {
  private readonly chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private tag(field: number, wire: number): void {
    if (!Number.isInteger(field) || field < 1) throw new Error(`bad protobuf field number ${field}`);
    this.push(encodeVarint(BigInt(field) << 3n | BigInt(wire)));
  }

  /** int32, int64, enum and bool fields alike. Negative values take 10 bytes (two's complement), as protobuf. */
  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.push(encodeVarint(toUint64(value)));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LENGTH_DELIMITED);
    this.push(encodeVarint(BigInt(value.length)));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** An embedded message, written by `build` into its own writer. */
  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

function toUint64(value: number | bigint): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new Error(`protobuf varint needs an integer, got ${value}`);
  const v = BigInt(value);
  if (v < -(1n << 63n) || v >= 1n << 64n) throw new Error(`protobuf varint out of 64-bit range: ${v}`);
  return v < 0n ? v + (1n << 64n) : v;
}

/** Base-128 varint, least significant group first, high bit set on every byte but the last. */
export function encodeVarint(value: bigint): Uint8Array {
  if (value < 0n) throw new Error('encodeVarint takes an unsigned value');
  const bytes: number[] = [];
  let v = value;
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    bytes.push(byte);
  } while (v > 0n);
  return Uint8Array.from(bytes);
}

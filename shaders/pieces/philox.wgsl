// Piece `philox`: Philox4x32-10 and the Poisson draws of four neurons.

// The counter-based random function of src/input.rs, bit for bit:
// Philox4x32-10 (Salmon et al., SC 2011; CPU twin: philox::philox4x32_10):
// four words from a 128-bit counter and a 64-bit key. WGSL has no 32 x 32
// -> 64-bit multiply: the high word is built from 16-bit halves (CPU twin:
// philox::mulhi_by_halves); u32 multiplication wraps, giving the low word.
fn mulhi(a: u32, b: u32) -> u32 {
    let ah = a >> 16u;
    let al = a & 0xFFFFu;
    let bh = b >> 16u;
    let bl = b & 0xFFFFu;
    let ll = al * bl;
    let lh = al * bh;
    let hl = ah * bl;
    let hh = ah * bh;
    let mid = (ll >> 16u) + (lh & 0xFFFFu) + (hl & 0xFFFFu);
    return hh + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var r = 0u; r < 10u; r = r + 1u) {
        if (r > 0u) {
            k = k + vec2<u32>(0x9E3779B9u, 0xBB67AE85u);
        }
        let hi0 = mulhi(0xD2511F53u, c.x);
        let lo0 = 0xD2511F53u * c.x;
        let hi1 = mulhi(0xCD9E8D57u, c.z);
        let lo1 = 0xCD9E8D57u * c.z;
        c = vec4<u32>(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
    }
    return c;
}

// The Poisson draws of neurons 4g .. 4g + 3 at step t (docs/arithmetic.md
// §2.1, §6; CPU twin: input::draw4): the Philox words of counter
// (g, t, stream, 0) under the key (key0, key1) = the seed's low and high
// words. `keys` is [key0, key1, stream, 0] (input::key_words). Neuron n
// spikes when the top 24 bits of word n % 4 are below its integer
// threshold round(rate * 2^24).
fn poisson_draws(keys: vec4<u32>, g: u32, t: u32) -> vec4<u32> {
    return philox4x32_10(vec4<u32>(g, t, keys.z, 0u), keys.xy);
}

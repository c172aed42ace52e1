//! Sparse projections in the form `synapse_gather` reads.

use super::wgsl::WORKGROUP;

/// A sparse projection's synapses by post for `synapse_gather`, in slices of
/// [`WORKGROUP`] posts: synapse k of post 64 s + i at `slice_ptr[s] + 64 k +
/// i`; a slice as wide as its largest fan-in, shorter posts padded with
/// (pre 0, weight 0). `q` holds its synapses by post
/// ([`crate::network::Quantized::by_post`]). Returns (slice_ptr, pre,
/// weight).
pub fn by_post_slices(q: &crate::network::Quantized) -> (Vec<u64>, Vec<u32>, Vec<i32>) {
    let rows = q.rows.as_deref().expect("synapses by post");
    let w = WORKGROUP as usize;
    let fan = |j: usize| rows.ptr[j + 1] - rows.ptr[j];
    let mut slice_ptr = vec![0u64];
    for first in (0..q.n_post).step_by(w) {
        let width = (first..(first + w).min(q.n_post))
            .map(fan)
            .max()
            .unwrap_or(0);
        slice_ptr.push(slice_ptr[slice_ptr.len() - 1] + (width * w) as u64);
    }
    let total = slice_ptr[slice_ptr.len() - 1] as usize;
    let (mut pre, mut wq) = (vec![0u32; total], vec![0i32; total]);
    // threads own ranges of whole slices (disjoint parts of `pre` and `wq`);
    // a post's synapses are contiguous in `rows`
    let slices = slice_ptr.len() - 1;
    let threads = crate::threads::count().clamp(1, slices.max(1));
    let per = slices.div_ceil(threads).max(1);
    let range = |k: usize| (k * per).min(slices)..((k + 1) * per).min(slices);
    let lens: Vec<usize> = (0..slices.div_ceil(per))
        .map(|k| (slice_ptr[range(k).end] - slice_ptr[range(k).start]) as usize)
        .collect();
    crate::network::in_parts(&mut pre, &mut wq, &lens, |k, pre_part, wq_part| {
        let (lo, hi) = (range(k).start, range(k).end);
        let base = slice_ptr[lo];
        for j in lo * w..(hi * w).min(q.n_post) {
            let at = (slice_ptr[j / w] - base) as usize + j % w;
            for (k, s) in (rows.ptr[j]..rows.ptr[j + 1]).enumerate() {
                pre_part[at + k * w] = rows.pre[s];
                wq_part[at + k * w] = q.wq[s];
            }
        }
    });
    (slice_ptr, pre, wq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Model;
    use crate::network::Network;

    #[test]
    fn every_synapse_lands_in_its_posts_column_and_padding_adds_nothing() {
        let text = crate::config::DEFAULT_TOML
            .replace("size = 100", "size = 150")
            .replace("size = 20", "size = 130")
            .replacen(
                "init = \"linear\"",
                "init = \"linear\"\nfixed_probability = 0.3",
                1,
            );
        let model = Model::build(Network::from_toml_str(&text, "t").unwrap(), 5).unwrap();
        // the pre-major form (the CPU engine's) and the by-post one
        let q = &model.quantize().unwrap()[0];
        let by_post = &model.quantize_for(&[true]).unwrap()[0];
        assert_eq!((by_post.frac_bits, by_post.by_post()), (q.frac_bits, true));
        let pm = q.sparse.as_ref().expect("fc1 is sparse");
        let (ptr, pre, w) = by_post_slices(by_post);
        let lanes = WORKGROUP as usize;
        assert_eq!(ptr.len(), q.n_post.div_ceil(lanes) + 1);
        // per post, (pre, weight) from the pre-major form and from the slices
        let mut want = vec![Vec::new(); q.n_post];
        for i in 0..q.n_pre {
            for s in pm.pre_ptr[i]..pm.pre_ptr[i + 1] {
                want[pm.post[s] as usize].push((i as u32, q.wq[s]));
            }
        }
        let mut got = vec![Vec::new(); q.n_post];
        for slice in 0..ptr.len() - 1 {
            let width = (ptr[slice + 1] - ptr[slice]) as usize / lanes;
            for k in 0..width {
                for lane in 0..lanes {
                    let e = ptr[slice] as usize + k * lanes + lane;
                    let post = slice * lanes + lane;
                    if post < q.n_post && k < want[post].len() {
                        got[post].push((pre[e], w[e]));
                    } else {
                        assert_eq!((pre[e], w[e]), (0, 0), "padding at {e}");
                    }
                }
            }
        }
        assert_eq!(got, want);
        assert!(want.iter().any(|v| v.len() > 1), "a fan-in to check");
    }
}

//! Sparse projections in the form `synapse_gather` reads.

use super::WORKGROUP;

/// A sparse projection's synapses by post for `synapse_gather`, in slices of
/// [`WORKGROUP`] posts: synapse k of post 64 s + i at `slice_ptr[s] + 64 k +
/// i`; a slice as wide as its largest fan-in, shorter posts padded with
/// (pre 0, weight 0). Returns (slice_ptr, pre, weight), or None when the
/// projection is not sparse.
pub(super) fn by_post_slices(
    q: &crate::network::Quantized,
) -> Option<(Vec<u64>, Vec<u32>, Vec<i32>)> {
    let pm = q.sparse.as_ref()?;
    let w = WORKGROUP as usize;
    let mut fan = vec![0u32; q.n_post];
    for &j in &pm.post {
        fan[j as usize] += 1;
    }
    let mut slice_ptr = vec![0u64];
    for slice in fan.chunks(w) {
        let width = slice.iter().copied().max().unwrap_or(0) as u64;
        slice_ptr.push(slice_ptr.last()? + width * w as u64);
    }
    let total = *slice_ptr.last()?;
    let (mut pre, mut wq) = (vec![0u32; total as usize], vec![0i32; total as usize]);
    // threads own ranges of slices with about equal slots, so their parts
    // of `pre` and `wq` are disjoint; each walks every synapse in pre order
    // and places its own posts' (a post's synapses by ascending pre, as one
    // thread would)
    let slices = slice_ptr.len() - 1;
    let threads = crate::engine::cpu::default_threads().clamp(1, slices.max(1));
    let bounds: Vec<usize> = (0..threads)
        .map(|t| slice_ptr.partition_point(|&p| p < t as u64 * total / threads as u64))
        .map(|s| s.min(slices))
        .chain([slices])
        .collect();
    std::thread::scope(|scope| {
        let (mut pre_rest, mut wq_rest) = (&mut pre[..], &mut wq[..]);
        for t in 0..threads {
            let (lo, hi) = (bounds[t], bounds[t + 1]);
            let len = (slice_ptr[hi] - slice_ptr[lo]) as usize;
            let (pre_part, p_rest) = std::mem::take(&mut pre_rest).split_at_mut(len);
            let (wq_part, w_rest) = std::mem::take(&mut wq_rest).split_at_mut(len);
            (pre_rest, wq_rest) = (p_rest, w_rest);
            let slice_ptr = &slice_ptr;
            scope.spawn(move || {
                let base = slice_ptr[lo];
                let posts = lo * w..(hi * w).min(q.n_post);
                let mut next = vec![0u32; posts.len()];
                for i in 0..q.n_pre {
                    for s in pm.pre_ptr[i]..pm.pre_ptr[i + 1] {
                        let j = pm.post[s] as usize;
                        if !posts.contains(&j) {
                            continue;
                        }
                        let k = &mut next[j - posts.start];
                        let e = (slice_ptr[j / w] - base) as usize + *k as usize * w + j % w;
                        pre_part[e] = i as u32;
                        wq_part[e] = q.wq[s];
                        *k += 1;
                    }
                }
            });
        }
    });
    Some((slice_ptr, pre, wq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Network;
    use crate::network::Model;

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
        let q = &model.quantize().unwrap()[0];
        let pm = q.sparse.as_ref().expect("fc1 is sparse");
        let (ptr, pre, w) = by_post_slices(q).unwrap();
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

//! Medians and spreads.

/// A summary of samples.
#[derive(Clone, Debug)]
pub struct Summary {
    pub median: f64,
    pub lo: f64,
    pub hi: f64,
    /// True when `lo`–`hi` are p10–p90 (≥ 5 samples), false for min–max.
    pub percentiles: bool,
    pub n: usize,
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let pos = q * (sorted.len() - 1) as f64;
    let (i, frac) = (pos.floor() as usize, pos - pos.floor());
    if i + 1 < sorted.len() {
        sorted[i] * (1.0 - frac) + sorted[i + 1] * frac
    } else {
        sorted[i]
    }
}

/// Median with p10–p90 (≥ 5 samples) or min–max (fewer).
pub fn summarize(samples: &[f64]) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let percentiles = s.len() >= 5;
    let (lo, hi) = if percentiles { (quantile(&s, 0.1), quantile(&s, 0.9)) } else { (s[0], s[s.len() - 1]) };
    Some(Summary { median: quantile(&s, 0.5), lo, hi, percentiles, n: s.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = summarize(&[5.0, 1.0, 3.0]).unwrap();
        assert_eq!((s.median, s.lo, s.hi, s.percentiles), (3.0, 1.0, 5.0, false));
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!(s.median, 3.5);
        assert!(s.percentiles && s.lo > 1.0 && s.hi < 6.0);
        assert!(summarize(&[]).is_none());
    }
}

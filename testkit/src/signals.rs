//! Known media to push through a room and the checks that recognise it on
//! the other side: a sine tone (checked by frequency and level) and a video
//! test pattern of grey bars (checked per bar, within codec tolerance).

/// 10 ms at 48 kHz.
pub const SAMPLES_PER_10_MS: usize = 480;

/// A sine tone generator at 48 kHz mono that keeps its phase across frames.
#[derive(Debug, Clone)]
pub struct Tone {
    frequency: f64,
    amplitude: f64,
    position: u64,
}

impl Tone {
    /// A tone of `frequency` Hz at `amplitude` (0.0 – 1.0 of full scale).
    pub fn new(frequency: f64, amplitude: f64) -> Self {
        Self {
            frequency,
            amplitude,
            position: 0,
        }
    }

    /// The next 10 ms of samples.
    pub fn next_frame(&mut self) -> Vec<i16> {
        (0..SAMPLES_PER_10_MS)
            .map(|_| {
                let t = self.position as f64 / 48_000.0;
                self.position += 1;
                let value =
                    (2.0 * std::f64::consts::PI * self.frequency * t).sin() * self.amplitude;
                (value * f64::from(i16::MAX)) as i16
            })
            .collect()
    }
}

/// What a stretch of received audio sounds like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneReading {
    /// The dominant frequency, from the rate of upward zero crossings.
    pub frequency: f64,
    /// Root-mean-square level, 0.0 – 1.0 of full scale.
    pub level: f64,
}

/// Reads the frequency and level of mono 48 kHz `samples`.
pub fn read_tone(samples: &[i16]) -> ToneReading {
    if samples.is_empty() {
        return ToneReading {
            frequency: 0.0,
            level: 0.0,
        };
    }
    let crossings = samples.windows(2).filter(|w| w[0] < 0 && w[1] >= 0).count();
    let seconds = samples.len() as f64 / 48_000.0;
    let sum: f64 = samples
        .iter()
        .map(|&s| {
            let x = f64::from(s) / f64::from(i16::MAX);
            x * x
        })
        .sum();
    ToneReading {
        frequency: crossings as f64 / seconds,
        level: (sum / samples.len() as f64).sqrt(),
    }
}

/// Whether `samples` (at least 100 ms) carry a tone of `frequency` ± 3 %
/// at a level of at least `min_level`.
pub fn is_tone(samples: &[i16], frequency: f64, min_level: f64) -> bool {
    if samples.len() < 4_800 {
        return false;
    }
    let reading = read_tone(samples);
    (reading.frequency - frequency).abs() <= frequency * 0.03 && reading.level >= min_level
}

/// The luma of the pattern's vertical bars, left to right.
pub const PATTERN_BARS: [u8; 4] = [40, 100, 160, 220];

/// The Y, U and V planes (tightly packed) of a `width` x `height` I420 test
/// pattern: four grey bars of [`PATTERN_BARS`].
pub fn pattern_i420(width: u32, height: u32) -> [Vec<u8>; 3] {
    let (w, h) = (width as usize, height as usize);
    let mut y = vec![0u8; w * h];
    for row in 0..h {
        for col in 0..w {
            y[row * w + col] = PATTERN_BARS[(col * PATTERN_BARS.len()) / w];
        }
    }
    let chroma = w.div_ceil(2) * h.div_ceil(2);
    [y, vec![128; chroma], vec![128; chroma]]
}

/// Whether a received Y plane shows the pattern: each bar's centre region
/// within `tolerance` of its luma.
pub fn shows_pattern(y: &[u8], stride: usize, width: u32, height: u32, tolerance: u8) -> bool {
    let (w, h) = (width as usize, height as usize);
    if w < 8 || h < 4 || stride < w || y.len() < stride * h {
        return false;
    }
    let bar = w / PATTERN_BARS.len();
    PATTERN_BARS.iter().enumerate().all(|(i, &expected)| {
        // The middle half of the bar, the middle half of the rows: edges blur.
        let (x0, x1) = (i * bar + bar / 4, i * bar + bar * 3 / 4);
        let (y0, y1) = (h / 4, h * 3 / 4);
        let mut sum = 0u64;
        let mut n = 0u64;
        for row in y0..y1 {
            for col in x0..x1 {
                sum += u64::from(y[row * stride + col]);
                n += 1;
            }
        }
        let mean = (sum / n.max(1)) as i32;
        (mean - i32::from(expected)).abs() <= i32::from(tolerance)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_tone_reads_back_at_its_frequency_and_silence_does_not() {
        let mut tone = Tone::new(440.0, 0.5);
        let samples: Vec<i16> = (0..20).flat_map(|_| tone.next_frame()).collect();
        let reading = read_tone(&samples);
        assert!((reading.frequency - 440.0).abs() < 10.0, "{reading:?}");
        assert!(
            (reading.level - 0.5 / 2f64.sqrt()).abs() < 0.01,
            "{reading:?}"
        );
        assert!(is_tone(&samples, 440.0, 0.2));
        assert!(!is_tone(&samples, 880.0, 0.2));
        assert!(!is_tone(&vec![0; 4800], 440.0, 0.01));
    }

    #[test]
    fn the_pattern_is_recognised_and_a_flat_grey_frame_is_not() {
        let [y, _, _] = pattern_i420(320, 240);
        assert!(shows_pattern(&y, 320, 320, 240, 10));
        assert!(!shows_pattern(&vec![128; 320 * 240], 320, 320, 240, 10));
    }
}

//! Image files in, network input out: decode, orient, resize to 227×227, normalise.
//!
//! The network sees exactly what MATLAB's `augmentedImageDatastore([227 227])` and torchvision's
//! preprocessing give it: RGB, bilinear resize to 227×227, then per-channel ImageNet
//! standardisation, laid out NCHW. Every user file passes through here, so every failure is a
//! typed error the UI and the CLI can put into words; nothing here panics on bad input.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage, imageops::FilterType};
use thiserror::Error;

/// Side of the square network input (SqueezeNet as MATLAB ships it).
pub const INPUT_SIZE: u32 = 227;

/// Values per image in the network input tensor (3 × 227 × 227).
pub const INPUT_VALUES: usize = 3 * (INPUT_SIZE as usize) * (INPUT_SIZE as usize);

/// Largest image accepted, in pixels: a header claiming more is refused before any pixel buffer
/// is allocated, so a crafted or corrupt file cannot exhaust a browser tab's memory.
pub const MAX_PIXELS: u64 = 100_000_000;

/// ImageNet channel means, the normalisation every torchvision/MATLAB SqueezeNet was trained with.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet channel standard deviations (see [`IMAGENET_MEAN`]).
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// Why an image file could not be turned into network input.
#[derive(Debug, Error, PartialEq)]
pub enum ImageInputError {
    /// The bytes are not in any supported image format.
    #[error("not a supported image (JPEG, PNG, WebP, GIF or BMP expected)")]
    UnknownFormat,
    /// The header announces a picture too large to decode safely.
    #[error("image is {width}×{height} = {megapixels:.0} megapixels; the limit is 100 megapixels")]
    TooLarge { width: u32, height: u32, megapixels: f64 },
    /// The header announces an empty picture.
    #[error("image has no pixels ({width}×{height})")]
    Empty { width: u32, height: u32 },
    /// The format was recognised but the data is damaged or truncated.
    #[error("the {format} data could not be decoded: {reason}")]
    Corrupt { format: String, reason: String },
    /// The file ends before its image data does: a decoder would fill the missing part
    /// with grey and the network would train on it, so it is refused instead.
    #[error("the {format} file is cut short (it ends before its image data does); copy or export it again")]
    Truncated { format: String },
    /// A file kept elsewhere (the browser's, or one a session was exported without) could not
    /// be read; the reason says why in the words of whoever keeps it.
    #[error("{reason}")]
    Unreadable { reason: String },
}

/// Decodes an image file (JPEG, PNG, WebP, GIF, BMP) to 8-bit RGB, upright.
///
/// Grey, alpha, 16-bit and palette images become plain RGB (alpha is dropped, as MATLAB's
/// `imread` does); a JPEG's EXIF orientation is applied so a phone photo is not seen sideways.
/// The size is checked from the header before decoding (see [`MAX_PIXELS`]).
pub fn decode_rgb(bytes: &[u8]) -> Result<RgbImage, ImageInputError> {
    let reader =
        ImageReader::new(Cursor::new(bytes)).with_guessed_format().map_err(|_| ImageInputError::UnknownFormat)?;
    let format = reader.format().ok_or(ImageInputError::UnknownFormat)?;
    let format_name = format!("{format:?}").to_uppercase();
    let corrupt =
        |e: image::ImageError| ImageInputError::Corrupt { format: format_name.clone(), reason: e.to_string() };

    if is_cut_short(format, bytes) {
        return Err(ImageInputError::Truncated { format: format_name });
    }
    // The size from the header alone, before a decoder is made: some refuse a huge picture
    // themselves, in words that differ by format and by target (PNG's "Memory limit exceeded"
    // on wasm32), without saying how huge.
    if let Some((width, height)) = header_dimensions(bytes) {
        let pixels = u64::from(width) * u64::from(height);
        if pixels > MAX_PIXELS {
            return Err(ImageInputError::TooLarge { width, height, megapixels: pixels as f64 / 1e6 });
        }
    }
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(ImageInputError::Empty { width, height });
    }
    if pixels > MAX_PIXELS {
        return Err(ImageInputError::TooLarge { width, height, megapixels: pixels as f64 / 1e6 });
    }
    // A missing or unreadable EXIF block is not an error: the picture is then taken as stored.
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(image.to_rgb8())
}

/// The picture's size as its header states it (`imagesize` reads only the header; no decoder is
/// made, as the PNG one cannot be on wasm32 for a header claiming gigabytes); `None` when the
/// header cannot be read (the decoder then says why).
fn header_dimensions(bytes: &[u8]) -> Option<(u32, u32)> {
    let size = imagesize::blob_size(bytes).ok()?;
    let side = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Some((side(size.width), side(size.height)))
}

/// Whether the file visibly stops before its end marker. The decoders are lenient here —
/// a JPEG cut at a third decodes "successfully" with its lower part grey — so the check is
/// made on the container: a JPEG's last scan (after its last SOS marker, FF DA) must be
/// followed by the end-of-image marker FF D9 (inside a scan every FF byte is escaped, so
/// FF D9 cannot appear by chance); a PNG's chunks must run, whole, up to IEND; a WebP's
/// RIFF header must not claim more bytes than there are. Trailing bytes after the end are
/// allowed (some cameras append data).
fn is_cut_short(format: image::ImageFormat, bytes: &[u8]) -> bool {
    match format {
        image::ImageFormat::Jpeg => {
            let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
            match last_scan {
                Some(at) => !bytes[at..].windows(2).any(|w| w == [0xFF, 0xD9]),
                None => false, // no scan at all: the decoder reports that itself
            }
        }
        image::ImageFormat::Png => {
            let mut at = 8; // the signature
            loop {
                let Some(header) = bytes.get(at..at + 8) else { return true };
                let length = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
                let end = at.saturating_add(12).saturating_add(length);
                if end > bytes.len() {
                    return true;
                }
                if &header[4..8] == b"IEND" {
                    return false;
                }
                at = end;
            }
        }
        image::ImageFormat::WebP => match bytes.get(4..8) {
            Some(size) => {
                let claimed = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
                claimed.saturating_add(8) > bytes.len()
            }
            None => true,
        },
        _ => false,
    }
}

/// Resizes to the 227×227 network input with a bilinear (triangle) filter.
///
/// Like Pillow's `BILINEAR`, the filter widens when shrinking (it antialiases), so results stay
/// within a few grey levels of torchvision/MATLAB pipelines (README: "Image preprocessing").
pub fn resize_to_input(image: &RgbImage) -> RgbImage {
    if image.width() == INPUT_SIZE && image.height() == INPUT_SIZE {
        return image.clone();
    }
    image::imageops::resize(image, INPUT_SIZE, INPUT_SIZE, FilterType::Triangle)
}

/// Normalises a 227×227 RGB image into CHW float input: `(v/255 − mean) / std` per channel,
/// in float32 arithmetic in the same order as the reference pipeline, so results are bit-exact.
pub fn normalise_chw(image: &RgbImage) -> Vec<f32> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let plane = w * h;
    let mut out = vec![0f32; 3 * plane];
    for (i, pixel) in image.pixels().enumerate() {
        for c in 0..3 {
            let v = f32::from(pixel[c]) / 255.0f32;
            out[c * plane + i] = (v - IMAGENET_MEAN[c]) / IMAGENET_STD[c];
        }
    }
    out
}

/// Decodes, resizes and normalises one image file: the whole path from bytes to network input.
pub fn image_file_to_input(bytes: &[u8]) -> Result<Vec<f32>, ImageInputError> {
    let rgb = decode_rgb(bytes)?;
    Ok(normalise_chw(&resize_to_input(&rgb)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, ImageFormat, Luma, Rgba};

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Vec::new();
        image.write_to(&mut Cursor::new(&mut bytes), format).unwrap();
        bytes
    }

    #[test]
    fn grey_and_alpha_images_become_rgb() {
        let grey = DynamicImage::ImageLuma8(ImageBuffer::from_pixel(5, 4, Luma([200u8])));
        let rgb = decode_rgb(&encode(&grey, ImageFormat::Png)).unwrap();
        assert_eq!(rgb.dimensions(), (5, 4));
        assert_eq!(rgb.get_pixel(2, 2).0, [200, 200, 200]);

        let rgba = DynamicImage::ImageRgba8(ImageBuffer::from_pixel(3, 3, Rgba([10u8, 20, 30, 0])));
        let rgb = decode_rgb(&encode(&rgba, ImageFormat::Png)).unwrap();
        assert_eq!(rgb.get_pixel(1, 1).0, [10, 20, 30]);
    }

    #[test]
    fn sixteen_bit_png_is_scaled_to_eight_bits() {
        let deep = DynamicImage::ImageLuma16(ImageBuffer::from_pixel(2, 2, Luma([65535u16])));
        let rgb = decode_rgb(&encode(&deep, ImageFormat::Png)).unwrap();
        assert_eq!(rgb.get_pixel(0, 0).0, [255, 255, 255]);
    }

    #[test]
    fn every_supported_format_decodes() {
        let image = DynamicImage::ImageRgb8(ImageBuffer::from_fn(8, 6, |x, y| {
            image::Rgb([(x * 30) as u8, (y * 40) as u8, 128])
        }));
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::Bmp, ImageFormat::Gif, ImageFormat::WebP] {
            let rgb = decode_rgb(&encode(&image, format)).unwrap_or_else(|e| panic!("{format:?}: {e}"));
            assert_eq!(rgb.dimensions(), (8, 6), "{format:?}");
        }
    }

    /// Inserts an EXIF APP1 segment with the given orientation tag right after a JPEG's SOI.
    fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
        let mut tiff = Vec::new();
        tiff.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // big-endian TIFF, first IFD at 8
        tiff.extend_from_slice(&1u16.to_be_bytes()); // one entry
        tiff.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
        tiff.extend_from_slice(&3u16.to_be_bytes()); // SHORT
        tiff.extend_from_slice(&1u32.to_be_bytes()); // count
        tiff.extend_from_slice(&orientation.to_be_bytes());
        tiff.extend_from_slice(&[0, 0]);
        tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
        let mut payload = b"Exif\0\0".to_vec();
        payload.extend_from_slice(&tiff);
        let mut out = jpeg[..2].to_vec();
        out.extend_from_slice(&[0xFF, 0xE1]);
        out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&jpeg[2..]);
        out
    }

    #[test]
    fn jpeg_exif_orientation_is_applied() {
        let image = DynamicImage::ImageRgb8(ImageBuffer::from_pixel(16, 8, image::Rgb([50u8, 60, 70])));
        let jpeg = encode(&image, ImageFormat::Jpeg);
        assert_eq!(decode_rgb(&jpeg).unwrap().dimensions(), (16, 8));
        // Orientation 6: the camera was turned 90°; the upright picture is 8 wide, 16 high.
        let rotated = decode_rgb(&with_exif_orientation(&jpeg, 6)).unwrap();
        assert_eq!(rotated.dimensions(), (8, 16));
    }

    #[test]
    fn text_is_refused_as_unknown_format() {
        assert_eq!(decode_rgb(b"hello, I am not a picture"), Err(ImageInputError::UnknownFormat));
    }

    /// A photo-like picture (noise compresses badly, so most of the file is image data).
    fn noisy(width: u32, height: u32) -> DynamicImage {
        DynamicImage::ImageRgb8(ImageBuffer::from_fn(width, height, |x, y| {
            let h = (x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503)).wrapping_mul(2_246_822_519);
            image::Rgb([(h >> 24) as u8, (h >> 16) as u8, (x + y) as u8])
        }))
    }

    /// Cut at a tenth, a third, two thirds or just before the end, a JPEG, PNG or WebP is
    /// refused, never decoded with a grey remainder; the whole file, or one with bytes
    /// appended, decodes.
    #[test]
    fn cut_files_are_refused_and_whole_ones_decode() {
        let image = noisy(160, 120);
        for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP] {
            let bytes = encode(&image, format);
            for cut in [bytes.len() / 10, bytes.len() / 3, bytes.len() * 2 / 3, bytes.len() - 2] {
                let err = decode_rgb(&bytes[..cut]).unwrap_err();
                assert!(
                    matches!(err, ImageInputError::Truncated { .. } | ImageInputError::Corrupt { .. }),
                    "{format:?} cut to {cut} of {} bytes: {err:?}",
                    bytes.len()
                );
                if cut >= bytes.len() / 3 {
                    assert!(err.to_string().contains("cut short"), "{format:?} at {cut}: {err}");
                }
            }
            assert_eq!(decode_rgb(&bytes).unwrap().dimensions(), (160, 120), "{format:?}");
            let mut appended = bytes.clone();
            appended.extend_from_slice(b"trailing camera data");
            assert!(decode_rgb(&appended).is_ok(), "{format:?} with trailing bytes");
        }
    }

    #[test]
    fn huge_header_is_refused_before_decoding() {
        // A 20,000 × 20,000 BMP header with no pixel data: 400 megapixels claimed.
        let mut bmp = Vec::new();
        let width: i32 = 20_000;
        let height: i32 = 20_000;
        bmp.extend_from_slice(b"BM");
        bmp.extend_from_slice(&(54u32).to_le_bytes());
        bmp.extend_from_slice(&[0; 4]);
        bmp.extend_from_slice(&(54u32).to_le_bytes());
        bmp.extend_from_slice(&(40u32).to_le_bytes());
        bmp.extend_from_slice(&width.to_le_bytes());
        bmp.extend_from_slice(&height.to_le_bytes());
        bmp.extend_from_slice(&(1u16).to_le_bytes());
        bmp.extend_from_slice(&(24u16).to_le_bytes());
        bmp.extend_from_slice(&[0; 24]);
        let err = decode_rgb(&bmp).unwrap_err();
        assert!(matches!(err, ImageInputError::TooLarge { width: 20_000, height: 20_000, .. }), "{err:?}");
    }

    #[test]
    fn odd_but_valid_files_decode_to_their_size() {
        // tests/fixtures/bad-input/, written by scripts/make-bad-inputs with Pillow.
        let cases = [
            ("cmyk.jpg", (64, 48)),
            ("grey.jpg", (64, 48)),
            ("grey-16bit.png", (64, 48)),
            ("palette-transparent.png", (64, 48)),
            ("one-pixel.png", (1, 1)),
            ("animated.gif", (32, 32)),
            ("exif-nonsense.jpg", (64, 48)),
        ];
        for (name, size) in cases {
            let path = format!("{}/tests/fixtures/bad-input/{name}", env!("CARGO_MANIFEST_DIR"));
            let image = decode_rgb(&std::fs::read(path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(image.dimensions(), size, "{name}");
        }
        // The CMYK gradient keeps its colours: red rises left to right, green top to bottom.
        let cmyk = decode_rgb(include_bytes!("../../tests/fixtures/bad-input/cmyk.jpg")).unwrap();
        assert!(cmyk.get_pixel(60, 2)[0] > cmyk.get_pixel(2, 2)[0] + 150, "{:?}", cmyk.get_pixel(60, 2));
        assert!(cmyk.get_pixel(2, 45)[1] > cmyk.get_pixel(2, 2)[1] + 150, "{:?}", cmyk.get_pixel(2, 45));
    }

    #[test]
    fn a_png_claiming_30000_by_30000_pixels_is_refused_by_its_size() {
        // The PNG decoder refuses it for memory first; the message still gives the size.
        let bytes =
            std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/bad-input/claims-30000x30000.png"))
                .unwrap();
        let err = decode_rgb(&bytes).unwrap_err();
        assert!(matches!(err, ImageInputError::TooLarge { width: 30_000, height: 30_000, .. }), "{err:?}");
        assert_eq!(err.to_string(), "image is 30000×30000 = 900 megapixels; the limit is 100 megapixels");
    }

    #[test]
    fn normalisation_follows_imagenet_statistics() {
        let image = RgbImage::from_pixel(2, 1, image::Rgb([0, 255, 124]));
        let chw = normalise_chw(&image);
        assert_eq!(chw.len(), 6);
        assert_eq!(chw[0], (0.0 - 0.485) / 0.229);
        assert_eq!(chw[2], (1.0 - 0.456) / 0.224);
        assert_eq!(chw[4], (124.0f32 / 255.0 - 0.406) / 0.225);
    }

    #[test]
    fn resize_gives_network_size() {
        let image = RgbImage::from_pixel(640, 427, image::Rgb([9, 9, 9]));
        let out = resize_to_input(&image);
        assert_eq!(out.dimensions(), (INPUT_SIZE, INPUT_SIZE));
        assert_eq!(out.get_pixel(100, 100).0, [9, 9, 9]);
    }
}

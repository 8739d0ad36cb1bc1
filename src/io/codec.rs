//! The PostgreSQL binary COPY format: an incremental reader that cuts a byte stream into tuples
//! without copying their fields, and the writer of tuples. Pure code, no I/O, so that it can be
//! fuzzed and tested on its own.
//!
//! Layout: an 11-byte signature, a 32-bit flags word, a 32-bit header-extension length and the
//! extension; then per tuple a 16-bit field count and, per field, a 32-bit length (-1 for NULL)
//! followed by that many bytes; a field count of -1 ends the data.

use std::fmt;

use bytes::{Buf, BufMut, BytesMut};

pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";

/// A malformed COPY stream: the server sent something this reader does not understand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecError(pub String);

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed binary COPY data: {}", self.0)
    }
}

impl std::error::Error for CodecError {}

/// One field of a tuple: `None` for NULL, else a range of the reader's buffer.
pub type FieldRange = Option<(usize, usize)>;

/// Incremental reader: feed it chunks as they arrive, then take the complete tuples out.
#[derive(Default)]
pub struct Reader {
    buffer: BytesMut,
    header_done: bool,
    finished: bool,
    /// Field ranges of the current tuple, reused from tuple to tuple.
    fields: Vec<FieldRange>,
}

impl Reader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        self.buffer.extend_from_slice(chunk);
    }

    /// True once the trailer (field count -1) was read.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Bytes received but not yet consumed as a complete tuple.
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }

    /// Reads the next complete tuple, if the buffer holds one. The returned view borrows the buffer
    /// until the next call.
    pub fn next_tuple(&mut self) -> Result<Option<Tuple<'_>>, CodecError> {
        if self.finished {
            return Ok(None);
        }
        if !self.header_done {
            if self.buffer.len() < 19 {
                return Ok(None);
            }
            if &self.buffer[..11] != SIGNATURE {
                return Err(CodecError("missing PGCOPY signature".into()));
            }
            let extension = u32::from_be_bytes([
                self.buffer[15],
                self.buffer[16],
                self.buffer[17],
                self.buffer[18],
            ]) as usize;
            if self.buffer.len() < 19 + extension {
                return Ok(None);
            }
            self.buffer.advance(19 + extension);
            self.header_done = true;
        }
        // Locate the end of the tuple before consuming anything, so that a partial tuple waits.
        if self.buffer.len() < 2 {
            return Ok(None);
        }
        let count = i16::from_be_bytes([self.buffer[0], self.buffer[1]]);
        if count == -1 {
            self.finished = true;
            self.buffer.advance(2);
            return Ok(None);
        }
        if count < 0 {
            return Err(CodecError(format!("negative field count {count}")));
        }
        self.fields.clear();
        let mut position = 2usize;
        for _ in 0..count {
            if self.buffer.len() < position + 4 {
                return Ok(None);
            }
            let length = i32::from_be_bytes([
                self.buffer[position],
                self.buffer[position + 1],
                self.buffer[position + 2],
                self.buffer[position + 3],
            ]);
            position += 4;
            if length == -1 {
                self.fields.push(None);
                continue;
            }
            if length < 0 {
                return Err(CodecError(format!("negative field length {length}")));
            }
            let length = length as usize;
            if self.buffer.len() < position + length {
                return Ok(None);
            }
            self.fields.push(Some((position, position + length)));
            position += length;
        }
        Ok(Some(Tuple {
            reader: self,
            length: position,
        }))
    }
}

/// A complete tuple inside the reader's buffer; consumed when dropped.
pub struct Tuple<'a> {
    reader: &'a mut Reader,
    length: usize,
}

impl Tuple<'_> {
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.reader.fields.len()
    }

    /// The bytes of field `index`, `None` for NULL.
    pub fn field(&self, index: usize) -> Option<&[u8]> {
        self.reader.fields[index].map(|(start, end)| &self.reader.buffer[start..end])
    }

    /// Field `index` read as a 32-bit integer (PostgreSQL `integer`), `None` for NULL or another width.
    pub fn int4(&self, index: usize) -> Option<i32> {
        let bytes = self.field(index)?;
        let array: [u8; 4] = bytes.try_into().ok()?;
        Some(i32::from_be_bytes(array))
    }
}

impl Drop for Tuple<'_> {
    fn drop(&mut self) {
        self.reader.buffer.advance(self.length);
    }
}

/// Writes a binary COPY stream.
pub struct Writer {
    pub buffer: BytesMut,
    fields_in_tuple: Option<(usize, i16)>,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// A writer whose buffer starts with the COPY header.
    pub fn new() -> Self {
        let mut buffer = BytesMut::with_capacity(1 << 20);
        buffer.put_slice(SIGNATURE);
        buffer.put_u32(0);
        buffer.put_u32(0);
        Writer {
            buffer,
            fields_in_tuple: None,
        }
    }

    /// Starts a tuple; its field count is filled in by [`Writer::end_tuple`].
    pub fn begin_tuple(&mut self) {
        let at = self.buffer.len();
        self.buffer.put_i16(0);
        self.fields_in_tuple = Some((at, 0));
    }

    pub fn end_tuple(&mut self) {
        if let Some((at, count)) = self.fields_in_tuple.take() {
            self.buffer[at..at + 2].copy_from_slice(&count.to_be_bytes());
        }
    }

    fn count_field(&mut self) {
        if let Some((_, count)) = self.fields_in_tuple.as_mut() {
            *count += 1;
        }
    }

    pub fn null(&mut self) {
        self.count_field();
        self.buffer.put_i32(-1);
    }

    pub fn bytes(&mut self, value: &[u8]) {
        self.count_field();
        self.buffer.put_i32(value.len() as i32);
        self.buffer.put_slice(value);
    }

    pub fn int4(&mut self, value: i32) {
        self.count_field();
        self.buffer.put_i32(4);
        self.buffer.put_i32(value);
    }

    pub fn field(&mut self, value: Option<&[u8]>) {
        match value {
            Some(bytes) => self.bytes(bytes),
            None => self.null(),
        }
    }

    /// Appends the trailer; the stream is complete.
    pub fn finish(&mut self) {
        self.buffer.put_i16(-1);
    }

    /// Takes the bytes written so far (for sending) and keeps writing into a fresh buffer.
    pub fn take(&mut self) -> bytes::Bytes {
        self.buffer.split().freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_stream() -> Vec<u8> {
        let mut writer = Writer::new();
        writer.begin_tuple();
        writer.int4(7);
        writer.null();
        writer.bytes("héllo\0world".as_bytes());
        writer.end_tuple();
        writer.begin_tuple();
        writer.int4(-3);
        writer.bytes(b"");
        writer.null();
        writer.end_tuple();
        writer.finish();
        writer.take().to_vec()
    }

    fn read_all(stream: &[u8], chunk: usize) -> Vec<Vec<Option<Vec<u8>>>> {
        let mut reader = Reader::new();
        let mut out = Vec::new();
        for piece in stream.chunks(chunk.max(1)) {
            reader.feed(piece);
            while let Some(tuple) = reader.next_tuple().unwrap() {
                out.push(
                    (0..tuple.len())
                        .map(|i| tuple.field(i).map(<[u8]>::to_vec))
                        .collect(),
                );
            }
        }
        assert!(reader.finished());
        assert_eq!(reader.pending(), 0);
        out
    }

    #[test]
    fn tuples_survive_any_chunking() {
        let stream = sample_stream();
        let whole = read_all(&stream, stream.len());
        assert_eq!(whole.len(), 2);
        assert_eq!(whole[0][0].as_deref(), Some(&7i32.to_be_bytes()[..]));
        assert_eq!(whole[0][1], None);
        assert_eq!(whole[0][2].as_deref(), Some("héllo\0world".as_bytes()));
        assert_eq!(whole[1][1].as_deref(), Some(&b""[..]));
        for chunk in 1..stream.len() {
            assert_eq!(read_all(&stream, chunk), whole, "chunk size {chunk}");
        }
    }

    /// A small deterministic generator, so that the property tests need no crate and repeat.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n.max(1)
        }
    }

    #[test]
    fn random_bytes_never_panic_the_reader() {
        let mut random = XorShift(0x5eed_1234_abcd_0001);
        for round in 0..2_000 {
            let mut stream = Vec::new();
            if round % 2 == 0 {
                stream.extend_from_slice(SIGNATURE);
                stream.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
            }
            for _ in 0..random.below(200) {
                stream.push(random.next() as u8);
            }
            let mut reader = Reader::new();
            for piece in stream.chunks(1 + random.below(16) as usize) {
                reader.feed(piece);
                while let Ok(Some(tuple)) = reader.next_tuple() {
                    for i in 0..tuple.len() {
                        let _ = tuple.field(i);
                        let _ = tuple.int4(i);
                    }
                }
            }
        }
    }

    #[test]
    fn random_tuples_round_trip() {
        let mut random = XorShift(0x0dd0_5eed_0000_0042);
        for _ in 0..500 {
            let mut writer = Writer::new();
            let mut expected: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
            for _ in 0..random.below(20) {
                let mut row = Vec::new();
                writer.begin_tuple();
                for _ in 0..1 + random.below(12) {
                    if random.below(5) == 0 {
                        writer.null();
                        row.push(None);
                    } else {
                        let value: Vec<u8> =
                            (0..random.below(40)).map(|_| random.next() as u8).collect();
                        writer.bytes(&value);
                        row.push(Some(value));
                    }
                }
                writer.end_tuple();
                expected.push(row);
            }
            writer.finish();
            let stream = writer.take().to_vec();
            let chunk = 1 + random.below(64) as usize;
            assert_eq!(read_all(&stream, chunk), expected);
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut reader = Reader::new();
        reader.feed(b"NOTCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0\0");
        assert!(reader.next_tuple().is_err());
        let mut reader = Reader::new();
        let mut stream = SIGNATURE.to_vec();
        stream.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xf0]);
        reader.feed(&stream);
        assert!(reader.next_tuple().is_err());
    }
}

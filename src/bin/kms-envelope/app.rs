//! The commands.

use std::ffi::OsString;
use std::sync::Arc;

use kms_envelope::format::{
    DEFAULT_MAX_FRAME_LENGTH, EncryptionContext, MAX_FRAME_LENGTH, ParsedHeader,
};
use kms_envelope::keyring::{Keyring, MultiKeyring, RawAesKeyring};
use kms_envelope::stream::DecryptState;
use kms_envelope::{Client, EncryptOptions, Error, Result};

use crate::args::{Args, Command};
use crate::io::{CHUNK, Output, io_err, open_input, read_chunk};

/// Run a command; returns the process exit code.
pub fn run(argv: Vec<OsString>) -> i32 {
    let result = Args::parse(argv).and_then(|args| {
        let r = match args.command {
            Command::Encrypt => encrypt(&args),
            Command::Decrypt => decrypt(&args),
            Command::Inspect => inspect(&args),
        };
        args.kms.report();
        r
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            let msg = e.to_string().replace('\n', " ");
            eprintln!("kms-envelope: error: {}: {msg}", e.code());
            if e.code() == "INVALID_ARGUMENT" { 2 } else { 1 }
        }
    }
}

fn raw_aes_keyrings(args: &Args) -> Result<Vec<Arc<dyn Keyring>>> {
    args.raw_aes
        .iter()
        .map(|spec| {
            let key = std::fs::read(&spec.key_file)
                .map_err(|e| io_err("cannot read key file", &spec.key_file, e))?;
            let ring = RawAesKeyring::new(&spec.namespace, &spec.name, &key)?;
            Ok(Arc::new(ring) as Arc<dyn Keyring>)
        })
        .collect()
}

/// All keyrings the arguments name; the first is the generator on encrypt.
fn keyrings(args: &Args) -> Result<Vec<Arc<dyn Keyring>>> {
    let mut rings = raw_aes_keyrings(args)?;
    // A KMS keyring comes first: with --kms-key it generates the data key.
    if let Some(kms) = args.kms.keyring()? {
        rings.insert(0, kms);
    }
    if rings.is_empty() {
        return Err(Error::InvalidArgument(
            "no keyring given (--raw-aes NAMESPACE:NAME:KEYFILE or --kms-key ARN)".into(),
        ));
    }
    Ok(rings)
}

fn client(args: &Args) -> Result<Client> {
    let mut rings = keyrings(args)?;
    let keyring: Arc<dyn Keyring> = if rings.len() == 1 {
        rings.remove(0)
    } else {
        let generator = rings.remove(0);
        Arc::new(MultiKeyring::new(Some(generator), rings)?)
    };
    let mut c = Client::new(keyring);
    if let Some(p) = args.commitment_policy {
        c = c.with_commitment_policy(p);
    }
    if let Some(s) = args.suite {
        c = c.with_suite(s)?;
    }
    if let Some(n) = args.frame_length {
        // Refuse what kms-envelope itself would not decrypt without raising its limit.
        if n > DEFAULT_MAX_FRAME_LENGTH {
            return Err(Error::InvalidArgument(format!(
                "--frame-length {n} is above {DEFAULT_MAX_FRAME_LENGTH}, the largest frame \
                 decryptors accept by default (memory use grows with the frame length)"
            )));
        }
        c = c.with_frame_length(n)?;
    }
    if let Some(n) = args.max_frame_length {
        c = c.with_max_frame_length(n)?;
    }
    if let Some(n) = args.max_encrypted_data_keys {
        c = c.with_max_encrypted_data_keys(n)?;
    }
    Ok(c)
}

fn input_path(args: &Args) -> &std::path::Path {
    args.input.as_deref().unwrap_or(std::path::Path::new("-"))
}

fn output_path(args: &Args) -> &std::path::Path {
    args.output.as_deref().unwrap_or(std::path::Path::new("-"))
}

fn encrypt(args: &Args) -> Result<()> {
    let client = client(args)?;
    let options = EncryptOptions {
        context: args.context.clone(),
        required_keys: args.required_context_keys.iter().cloned().collect(),
    };
    let mut input = open_input(input_path(args))?;
    let mut enc = pollster::block_on(client.start_encrypt(&options))?;
    let mut out = Output::create(output_path(args))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = read_chunk(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        enc.push(&buf[..n])?;
        out.write(&enc.take_output())?;
    }
    enc.finish()?;
    out.write(&enc.take_output())?;
    out.commit()
}

fn decrypt(args: &Args) -> Result<()> {
    let client = client(args)?;
    let mut input = open_input(input_path(args))?;
    let mut dec = client.start_decrypt(&args.require_context);
    let mut out = Output::create(output_path(args))?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = read_chunk(&mut input, &mut buf)?;
        if n == 0 {
            break;
        }
        dec.push(&buf[..n])?;
        if dec.state() == DecryptState::NeedDataKey {
            pollster::block_on(client.unlock(&mut dec))?;
        }
        out.write(&dec.take_output())?;
    }
    dec.finish()?;
    out.write(&dec.take_output())?;
    out.commit()
}

/// Print the (unauthenticated) header as JSON.
fn inspect(args: &Args) -> Result<()> {
    let mut input = open_input(input_path(args))?;
    // Inspect shows any header the format allows; it never decrypts.
    let limits = kms_envelope::Limits {
        max_encrypted_data_keys: usize::from(u16::MAX),
        max_frame_length: MAX_FRAME_LENGTH,
        ..Default::default()
    };
    let mut data = Vec::new();
    let mut buf = vec![0u8; 4096];
    let header = loop {
        match kms_envelope::format::parse_header(&data, &limits)? {
            kms_envelope::format::Progress::Done { value, .. } => break value,
            kms_envelope::format::Progress::NeedMore(_) => {
                let n = read_chunk(&mut input, &mut buf)?;
                if n == 0 {
                    return Err(Error::Truncated);
                }
                data.extend_from_slice(&buf[..n]);
            }
        }
    };
    println!("{}", header_json(&header));
    Ok(())
}

fn context_json(ctx: &EncryptionContext) -> serde_json::Value {
    serde_json::Value::Object(
        ctx.iter()
            .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v.to_owned())))
            .collect(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn header_json(h: &ParsedHeader) -> serde_json::Value {
    let b = &h.body;
    let edks: Vec<serde_json::Value> = b
        .encrypted_data_keys
        .iter()
        .map(|e| {
            serde_json::json!({
                "provider_id": e.provider_id,
                "provider_info": String::from_utf8(e.provider_info.clone()).ok(),
                "provider_info_hex": hex(&e.provider_info),
                "ciphertext_length": e.ciphertext.len(),
            })
        })
        .collect();
    serde_json::json!({
        "version": b.version(),
        "suite_id": format!("0x{:04x}", b.suite.id()),
        "suite": b.suite.name(),
        "message_id": hex(&b.message_id),
        "encryption_context": context_json(&b.context),
        "encrypted_data_keys": edks,
        "content_type": match b.content_type {
            kms_envelope::format::ContentType::Framed => "framed",
            kms_envelope::format::ContentType::NonFramed => "non-framed",
        },
        "frame_length": b.frame_length,
        "header_length": h.raw.len(),
        "authenticated": false,
    })
}

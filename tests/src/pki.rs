//! A throwaway certificate authority for one control plane: the API server's serving certificate,
//! client certificates (CN = user, O = groups, as kube-apiserver's x509 authenticator reads them)
//! and the service-account signing key. ECDSA P-256 everywhere; nothing leaves the temp dir.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use crate::Error;

/// A certificate and its private key, both written as PEM files.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PKCS#8 PEM).
    pub key: PathBuf,
}

/// The CA of one control plane, able to issue more client certificates later (e.g. for nodes).
pub(crate) struct Pki {
    dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
    ca_pem: String,
    ca_file: PathBuf,
}

impl std::fmt::Debug for Pki {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pki")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// A throwaway CA and one serving certificate signed by it, as PEM, for servers outside the control plane that
/// the API server or our own components must trust (webhooks, the recommender's report endpoint).
#[derive(Debug, Clone)]
pub struct ServingPem {
    /// The CA certificate clients trust.
    pub ca: String,
    /// The serving certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

impl ServingPem {
    /// A CA named `ca_cn` and a server certificate named `leaf_cn` for `sans` (IPs or DNS names).
    pub fn generate(ca_cn: &str, leaf_cn: &str, sans: &[&str]) -> Result<Self, Error> {
        let (ca_params, ca_key) = ca(ca_cn)?;
        let ca = ca_params
            .self_signed(&ca_key)
            .map_err(Error::cert("CA certificate"))?
            .pem();
        let issuer = Issuer::new(ca_params, ca_key);
        let params = server_params(leaf_cn, sans)?;
        let key = KeyPair::generate().map_err(Error::cert(format!("{leaf_cn} key")))?;
        let cert = params
            .signed_by(&key, &issuer)
            .map_err(Error::cert(format!("{leaf_cn} certificate")))?
            .pem();
        Ok(Self {
            ca,
            cert,
            key: key.serialize_pem(),
        })
    }
}

fn ca(cn: &str) -> Result<(CertificateParams, KeyPair), Error> {
    let key = KeyPair::generate().map_err(Error::cert("CA key"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn, None);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    Ok((params, key))
}

fn server_params(cn: &str, sans: &[&str]) -> Result<CertificateParams, Error> {
    let mut params = CertificateParams::new(sans.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .map_err(Error::cert(format!("{cn} SANs")))?;
    params.distinguished_name = name(cn, None);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    Ok(params)
}

impl Pki {
    /// Creates the CA in `dir` (which must exist).
    pub(crate) fn create(dir: &Path) -> Result<Self, Error> {
        let (params, key) = ca("tailor-test-ca")?;
        let cert = params
            .self_signed(&key)
            .map_err(Error::cert("CA certificate"))?;
        let ca_pem = cert.pem();
        let ca_file = dir.join("ca.crt");
        write(&ca_file, &ca_pem)?;
        write(&dir.join("ca.key"), &key.serialize_pem())?;
        Ok(Self {
            dir: dir.to_path_buf(),
            issuer: Issuer::new(params, key),
            ca_pem,
            ca_file,
        })
    }

    pub(crate) fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub(crate) fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    pub(crate) fn ca_key_file(&self) -> PathBuf {
        self.dir.join("ca.key")
    }

    /// A serving certificate for the API server, valid for the given IPs and DNS names.
    pub(crate) fn serving(&self, file_stem: &str, sans: &[&str]) -> Result<CertFiles, Error> {
        self.issue(file_stem, &server_params(file_stem, sans)?)
    }

    /// A client certificate for `user`, optionally in one `group` (rcgen writes one O per name).
    pub(crate) fn client(
        &self,
        file_stem: &str,
        user: &str,
        group: Option<&str>,
    ) -> Result<CertFiles, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = name(user, group);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(file_stem, &params)
    }

    fn issue(&self, file_stem: &str, params: &CertificateParams) -> Result<CertFiles, Error> {
        let key = KeyPair::generate().map_err(Error::cert(format!("{file_stem} key")))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(Error::cert(format!("{file_stem} certificate")))?;
        let files = CertFiles {
            cert: self.dir.join(format!("{file_stem}.crt")),
            key: self.dir.join(format!("{file_stem}.key")),
        };
        write(&files.cert, &cert.pem())?;
        write(&files.key, &key.serialize_pem())?;
        Ok(files)
    }

    /// The key pair the API server signs service-account tokens with: (private key, public key).
    pub(crate) fn service_account_key(&self) -> Result<(PathBuf, PathBuf), Error> {
        let key = KeyPair::generate().map_err(Error::cert("service-account signing key"))?;
        let private = self.dir.join("sa.key");
        let public = self.dir.join("sa.pub");
        write(&private, &key.serialize_pem())?;
        write(&public, &key.public_key_pem())?;
        Ok((private, public))
    }
}

fn name(common_name: &str, organization: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn write(path: &Path, contents: &str) -> Result<(), Error> {
    std::fs::write(path, contents).map_err(Error::io(format!("writing {}", path.display())))
}

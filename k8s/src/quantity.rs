//! Conversions between Kubernetes `Quantity` strings and `tailor_core`'s integer units, and between
//! `ResourceList`s and `tailor_core::estimate::Resources`. The parsing itself is `tailor_core::quantity`'s,
//! which reads quantities exactly as the API server does.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use tailor_core::estimate::Resources;
use tailor_core::quantity::{Bytes, MilliCpu, QuantityError};

use crate::crd::vpa::ResourceList;

/// The resource name of CPU in a `ResourceList`.
pub const CPU: &str = "cpu";
/// The resource name of memory in a `ResourceList`.
pub const MEMORY: &str = "memory";

/// A Kubernetes CPU quantity in millicores (rounded up like the API server: `0.1m` is `1m`).
pub fn millicpu(q: &Quantity) -> Result<MilliCpu, QuantityError> {
    MilliCpu::parse(&q.0)
}

/// A Kubernetes memory quantity in bytes.
pub fn bytes(q: &Quantity) -> Result<Bytes, QuantityError> {
    Bytes::parse(&q.0)
}

/// The canonical quantity for `cpu` (`250m`, `1`, `1500m`).
pub fn cpu_quantity(cpu: MilliCpu) -> Quantity {
    Quantity(cpu.to_quantity_string())
}

/// The canonical quantity for `memory` (`128Mi`, `1Gi`, `1000`).
pub fn memory_quantity(memory: Bytes) -> Quantity {
    Quantity(memory.to_quantity_string())
}

/// CPU and memory of a `ResourceList`; a missing or unparsable entry is `None` for that resource, with the
/// parse error returned beside so callers can report it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedResources {
    /// CPU, if present and valid.
    pub cpu: Option<MilliCpu>,
    /// Memory, if present and valid.
    pub memory: Option<Bytes>,
    /// Entries that did not parse: resource name and error.
    pub errors: Vec<(String, QuantityError)>,
}

/// Reads `cpu` and `memory` from a resource list (other resources are ignored).
pub fn parse_resources(list: &ResourceList) -> ParsedResources {
    let mut out = ParsedResources::default();
    if let Some(q) = list.get(CPU) {
        match millicpu(q) {
            Ok(v) => out.cpu = Some(v),
            Err(e) => out.errors.push((CPU.to_owned(), e)),
        }
    }
    if let Some(q) = list.get(MEMORY) {
        match bytes(q) {
            Ok(v) => out.memory = Some(v),
            Err(e) => out.errors.push((MEMORY.to_owned(), e)),
        }
    }
    out
}

/// A resource list holding `r`, restricted to the resources `cpu` / `memory` flags select.
pub fn resource_list(r: Resources, cpu: bool, memory: bool) -> ResourceList {
    let mut list = ResourceList::new();
    if cpu {
        list.insert(CPU.to_owned(), cpu_quantity(r.cpu));
    }
    if memory {
        list.insert(MEMORY.to_owned(), memory_quantity(r.memory));
    }
    list
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn q(s: &str) -> Quantity {
        Quantity(s.to_owned())
    }

    #[test]
    fn parses_kubernetes_forms() {
        assert_eq!(millicpu(&q("250m")), Ok(MilliCpu(250)));
        assert_eq!(millicpu(&q("1.5")), Ok(MilliCpu(1500)));
        assert_eq!(
            millicpu(&q("0.1m")),
            Ok(MilliCpu(1)),
            "rounded up like the API server"
        );
        assert_eq!(bytes(&q("1Gi")), Ok(Bytes(1 << 30)));
        assert_eq!(bytes(&q("262144k")), Ok(Bytes(262_144_000)));
        assert!(bytes(&q("12 parsecs")).is_err());
    }

    #[test]
    fn formats_canonically() {
        assert_eq!(cpu_quantity(MilliCpu(1500)).0, "1500m");
        assert_eq!(cpu_quantity(MilliCpu(2000)).0, "2");
        assert_eq!(memory_quantity(Bytes(128 << 20)).0, "128Mi");
    }

    #[test]
    fn resource_lists() {
        let list = resource_list(Resources::new(MilliCpu(100), Bytes(1 << 30)), true, false);
        assert_eq!(list.keys().collect::<Vec<_>>(), vec!["cpu"]);
        let mut list = resource_list(Resources::new(MilliCpu(100), Bytes(1 << 30)), true, true);
        let parsed = parse_resources(&list);
        assert_eq!(
            (parsed.cpu, parsed.memory),
            (Some(MilliCpu(100)), Some(Bytes(1 << 30)))
        );
        list.insert(MEMORY.into(), q("lots"));
        let parsed = parse_resources(&list);
        assert_eq!(parsed.memory, None);
        assert_eq!(parsed.errors.len(), 1);
    }

    proptest! {
        #[test]
        fn cpu_round_trips(m in 0i64..100_000_000_000) {
            prop_assert_eq!(millicpu(&cpu_quantity(MilliCpu(m))), Ok(MilliCpu(m)));
        }

        #[test]
        fn memory_round_trips(b in 0i64..100_000_000_000_000) {
            prop_assert_eq!(bytes(&memory_quantity(Bytes(b))), Ok(Bytes(b)));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,40}") {
            let _ = millicpu(&Quantity(s.clone()));
            let _ = bytes(&Quantity(s));
        }
    }
}

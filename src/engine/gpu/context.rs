//! Getting a device: adapter choice, limits, and errors turned into values
//! instead of panics. Split from the engine (as wgpu's `hello_compute` does)
//! so that tests and `nacc compare` can share one device.

use crate::error::{Error, Result};
use std::sync::{Arc, Mutex};

/// How to get a GPU when none is found.
pub const NO_ADAPTER_HELP: &str = "no GPU adapter found through wgpu (Vulkan, Metal or DX12). Install a GPU driver, or on Debian/Ubuntu `apt-get install mesa-vulkan-drivers` for a software Vulkan device (lavapipe); `nacc devices` lists what wgpu sees; `--backend cpu` runs without a GPU";

/// A device and queue with the adapter's description and limits.
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// The adapter's memory, where the backend says ([`device_memory`]).
    pub memory: Option<DeviceMemory>,
    /// The first error the device reported outside an error scope.
    errors: Arc<Mutex<Option<String>>>,
}

/// One adapter as `nacc devices` shows it.
pub struct AdapterSummary {
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub features: wgpu::Features,
    /// Its memory, where the backend says ([`device_memory`]).
    pub memory: Option<DeviceMemory>,
    /// Vulkan, Metal or DX12: the backends nacc computes on.
    pub primary: bool,
}

fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

/// Every adapter wgpu sees, on every backend.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let inst = instance(wgpu::Backends::all());
    pollster::block_on(inst.enumerate_adapters(wgpu::Backends::all()))
        .into_iter()
        .map(|a| {
            let info = a.get_info();
            AdapterSummary {
                primary: wgpu::Backends::PRIMARY.contains(info.backend.into()),
                limits: a.limits(),
                features: a.features(),
                memory: device_memory(&a),
                info,
            }
        })
        .collect()
}

/// A GPU's memory as its Vulkan driver reports it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DeviceMemory {
    /// Bytes of the largest device-local heap: a discrete GPU's own memory,
    /// an integrated or software one's share of the host's.
    pub heap: u64,
    /// What this process may allocate from that heap now, by
    /// VK_EXT_memory_budget: the heap less what other programs (a desktop,
    /// another simulation) hold. None where the driver does not offer it.
    pub budget: Option<u64>,
}

impl DeviceMemory {
    /// What a run may allocate: the budget where known, else the heap.
    pub fn usable(&self) -> u64 {
        self.budget.map_or(self.heap, |b| b.min(self.heap))
    }
}

/// The adapter's memory, where its backend says: on Vulkan the largest
/// device-local heap, and its budget where the driver has
/// VK_EXT_memory_budget. None on other backends and systems.
pub fn device_memory(adapter: &wgpu::Adapter) -> Option<DeviceMemory> {
    #[cfg(any(
        windows,
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd"
    ))]
    {
        // SAFETY: the Vulkan adapter and instance outlive the calls, which
        // only read the physical device's properties; the budget's struct is
        // chained only where the instance, the device and the extension
        // allow it.
        use ash::vk;
        let hal = unsafe { adapter.as_hal::<wgpu::hal::api::Vulkan>() }?;
        let instance = hal.shared_instance().raw_instance();
        let device = hal.raw_physical_device();
        let props = unsafe { instance.get_physical_device_memory_properties(device) };
        let heaps = &props.memory_heaps[..props.memory_heap_count as usize];
        let (index, heap) = heaps
            .iter()
            .enumerate()
            .filter(|(_, h)| h.flags.contains(vk::MemoryHeapFlags::DEVICE_LOCAL))
            .max_by_key(|(_, h)| h.size)?;
        // The budget comes with the memory properties of Vulkan 1.1 (the
        // instance's and the device's) when the device has the extension.
        let v11 = hal.shared_instance().instance_api_version() >= vk::API_VERSION_1_1
            && unsafe { instance.get_physical_device_properties(device) }.api_version
                >= vk::API_VERSION_1_1;
        let has_budget = v11
            && unsafe { instance.enumerate_device_extension_properties(device) }.is_ok_and(
                |exts| {
                    exts.iter()
                        .any(|e| e.extension_name_as_c_str() == Ok(ash::ext::memory_budget::NAME))
                },
            );
        let budget = has_budget.then(|| {
            let mut budget = vk::PhysicalDeviceMemoryBudgetPropertiesEXT::default();
            let mut props2 = vk::PhysicalDeviceMemoryProperties2::default().push_next(&mut budget);
            unsafe { instance.get_physical_device_memory_properties2(device, &mut props2) };
            budget.heap_budget[index]
        });
        Some(DeviceMemory {
            heap: heap.size,
            // a driver that fills nothing in leaves 0: no budget known
            budget: budget.filter(|&b| b > 0),
        })
    }
    #[cfg(not(any(
        windows,
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd"
    )))]
    {
        let _ = adapter;
        None
    }
}

/// Lower is preferred.
fn rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    }
}

impl GpuContext {
    /// The best adapter on the primary backends (Vulkan, Metal, DX12):
    /// discrete before integrated before software.
    pub fn new() -> Result<GpuContext> {
        GpuContext::named(None)
    }

    /// [`GpuContext::new`], or with `want` (`NACC_ADAPTER`) the first
    /// adapter whose name contains it.
    pub fn named(want: Option<&str>) -> Result<GpuContext> {
        GpuContext::named_nth(want, 0)
    }

    /// [`GpuContext::named`], taking the `nth` (modulo their number) of
    /// the adapters of the best kind: one GPU per rank of a node.
    pub fn named_nth(want: Option<&str>, nth: usize) -> Result<GpuContext> {
        let inst = instance(wgpu::Backends::PRIMARY);
        let mut adapters = pollster::block_on(inst.enumerate_adapters(wgpu::Backends::PRIMARY));
        if let Some(want) = want {
            adapters.retain(|a| {
                a.get_info()
                    .name
                    .to_lowercase()
                    .contains(&want.to_lowercase())
            });
            if adapters.is_empty() {
                return Err(Error::Input(format!(
                    "NACC_ADAPTER = {want:?}: no adapter's name contains it; `nacc devices` lists them"
                )));
            }
        }
        adapters.sort_by_key(|a| rank(a.get_info().device_type));
        if let Some(best) = adapters.first().map(|a| rank(a.get_info().device_type)) {
            adapters.retain(|a| rank(a.get_info().device_type) == best);
        }
        let count = adapters.len().max(1);
        let adapter = adapters
            .into_iter()
            .nth(nth % count)
            .ok_or_else(|| Error::Input(NO_ADAPTER_HELP.into()))?;
        GpuContext::from_adapter(adapter)
    }

    pub fn from_adapter(adapter: wgpu::Adapter) -> Result<GpuContext> {
        let info = adapter.get_info();
        let memory = device_memory(&adapter);
        // Ask for everything the adapter offers: nacc's buffers are as large
        // as the network needs.
        let limits = adapter.limits();
        // timestamps around dispatches, for `nacc bench --profile`, where offered
        let timestamps =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("nacc"),
            required_limits: limits.clone(),
            required_features: adapter.features() & timestamps,
            ..Default::default()
        }))
        .map_err(|e| Error::Runtime(format!("GPU {}: cannot open the device: {e}", info.name)))?;
        let errors: Arc<Mutex<Option<String>>> = Arc::default();
        let slot = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
            s.get_or_insert_with(|| e.to_string());
        }));
        let slot = errors.clone();
        device.set_device_lost_callback(move |reason, msg| {
            let mut s = slot.lock().unwrap_or_else(|p| p.into_inner());
            s.get_or_insert_with(|| format!("device lost ({reason:?}): {msg}"));
        });
        Ok(GpuContext {
            device,
            queue,
            info,
            limits,
            memory,
            errors,
        })
    }

    /// Whether this is a software GPU (lavapipe, WARP): its buffers are
    /// host memory, and the heap it reports is no limit (lavapipe reports
    /// 2 GiB and holds more).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// The memory of a hardware GPU whose backend says (None for a
    /// software one).
    pub fn hardware_memory_info(&self) -> Option<DeviceMemory> {
        self.memory.filter(|_| !self.is_software())
    }

    /// What a run may allocate on a hardware GPU whose backend says: its
    /// budget, else its heap ([`DeviceMemory::usable`]).
    pub fn hardware_memory(&self) -> Option<u64> {
        self.hardware_memory_info().map(|m| m.usable())
    }

    /// "name (backend, type)".
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    /// The first error the device reported since the last call, as an error.
    pub fn take_error(&self) -> Result<()> {
        let mut s = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        match s.take() {
            Some(m) => Err(Error::Runtime(format!("GPU {}: {m}", self.info.name))),
            None => Ok(()),
        }
    }

    /// Maps the first `size` bytes of `buffer` (which must have MAP_READ),
    /// waits, hands them to `f` as words, drops the view and unmaps: the
    /// caller copies what it needs straight out of the mapping.
    pub fn with_mapped<T: bytemuck::Pod, R>(
        &self,
        buffer: &wgpu::Buffer,
        size: u64,
        f: impl FnOnce(&[T]) -> R,
    ) -> Result<R> {
        let (tx, rx) = std::sync::mpsc::channel();
        buffer.map_async(wgpu::MapMode::Read, ..size, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| {
                Error::Runtime(format!(
                    "GPU {}: waiting for the device: {e}",
                    self.info.name
                ))
            })?;
        let mapped = rx
            .recv()
            .map_err(|_| Error::Runtime("GPU: buffer map callback never ran".into()))?;
        mapped.map_err(|e| {
            Error::Runtime(format!(
                "GPU {}: cannot read back results: {e}",
                self.info.name
            ))
        })?;
        let out = {
            let view = buffer
                .get_mapped_range(..size)
                .map_err(|e| Error::Runtime(format!("GPU {}: {e}", self.info.name)))?;
            // mapped ranges are aligned for any Pod word; copy only if not
            match bytemuck::try_cast_slice::<u8, T>(&view[..]) {
                Ok(words) => f(words),
                Err(_) => f(&bytemuck::pod_collect_to_vec(&view[..])),
            }
        };
        buffer.unmap();
        self.take_error()?;
        Ok(out)
    }

    /// [`GpuContext::with_mapped`], copied out into a vector.
    pub fn read_mapped<T: bytemuck::Pod>(
        &self,
        buffer: &wgpu::Buffer,
        size: u64,
    ) -> Result<Vec<T>> {
        self.with_mapped(buffer, size, |words: &[T]| words.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::DeviceMemory;

    #[test]
    fn a_run_may_take_the_budget_never_more_than_the_heap() {
        let m = |heap, budget| DeviceMemory { heap, budget }.usable();
        assert_eq!(m(80, None), 80);
        assert_eq!(m(80, Some(60)), 60);
        assert_eq!(m(80, Some(100)), 80);
    }
}

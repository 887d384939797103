package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// cudaProvider is the CUDA execution provider's file name, looked for beside
// the loaded core library.
const cudaProvider = "libonnxruntime_providers_cuda.so"

// cudaEPName is the name the CUDA provider gives its devices.
const cudaEPName = "CUDAExecutionProvider"

// The CUDA provider is registered with the process-wide environment once;
// its devices live as long as the environment.
var cudaEP struct {
	once    sync.Once
	devices []ort.EpDevice
	err     error
}

// appendCUDA adds the CUDA execution provider for GPU id to so. The provider
// library must sit beside the loaded core, as onnxruntime's builds lay it out.
//
// A core built with CUDA takes the provider through its own options API.
// A core built without it (the one scripts/onnxruntime-cuda.sh fetches)
// answers "not enabled in this build"; there the provider is loaded as a
// plugin library from beside the core and its devices are appended, which
// onnxruntime supports since 1.23.
func appendCUDA(so *ort.SessionOptions, id int) error {
	fail := func(err error) error { return fmt.Errorf("%w: CUDA device %d: %w", ErrDevice, id, err) }
	core := LibraryPath()
	provider := filepath.Join(filepath.Dir(core), cudaProvider)
	if _, err := os.Stat(provider); err != nil {
		return fail(fmt.Errorf("the loaded onnxruntime (%s) has no CUDA provider beside it (%s): run scripts/onnxruntime-cuda.sh and pass the library it prints (--library, Options.LibraryPath or $%s)",
			core, provider, LibraryEnv))
	}
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		if !strings.Contains(err.Error(), "not enabled in this build") {
			return fail(err)
		}
		devices, err := cudaDevices(core, provider)
		if err != nil {
			return fail(err)
		}
		if id < 0 || id >= len(devices) {
			return fail(fmt.Errorf("onnxruntime sees %d CUDA device(s)", len(devices)))
		}
		if err := so.AppendExecutionProviderV2(devices[id:id+1], nil); err != nil {
			return fail(err)
		}
		return nil
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": fmt.Sprint(id)}); err != nil {
		return fail(err)
	}
	if err := so.AppendExecutionProviderCUDA(co); err != nil {
		return fail(libraryHint(err))
	}
	return nil
}

// libraryHint adds what to do when the provider cannot load a CUDA library.
func libraryHint(err error) error {
	if strings.Contains(err.Error(), "cannot open shared object file") {
		return fmt.Errorf("%w (the CUDA provider needs CUDA 13's cuBLAS, cuRAND and runtime libraries and the NVIDIA driver's libcuda.so.1 on the library path: add their directories to LD_LIBRARY_PATH)", err)
	}
	return err
}

// cudaDevices registers the CUDA provider beside the loaded core (once) and
// returns its devices, in the provider's order.
func cudaDevices(core, provider string) ([]ort.EpDevice, error) {
	cudaEP.once.Do(func() {
		cudaEP.devices, cudaEP.err = registerCUDA(core, provider)
	})
	return cudaEP.devices, cudaEP.err
}

func registerCUDA(core, provider string) ([]ort.EpDevice, error) {
	if v := ort.GetVersion(); v != CUDAORTVersion {
		// A provider of another version may load and then crash.
		return nil, fmt.Errorf("the CUDA provider beside %s needs onnxruntime %s, the loaded library is %s", core, CUDAORTVersion, v)
	}
	if err := ort.RegisterExecutionProviderLibrary("amortize-cuda", provider); err != nil {
		return nil, fmt.Errorf("loading %s: %w", provider, libraryHint(err))
	}
	all, err := ort.GetEpDevices()
	if err != nil {
		return nil, err
	}
	var devices []ort.EpDevice
	for _, d := range all {
		if d.EpName() == cudaEPName {
			devices = append(devices, d)
		}
	}
	if len(devices) == 0 {
		return nil, fmt.Errorf("the CUDA provider found no GPU (is the NVIDIA driver loaded? nvidia-smi tells)")
	}
	return devices, nil
}

# lit configuration for the gemma4c suites: dialect verifiers, passes and tools.
import os
import shutil
import lit.formats
from lit.llvm import llvm_config

config.name = "gemma4c"
config.suffixes = [".mlir", ".test"]
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gemma4c_obj_root, "tests", "lit")
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.substitutions.append(("%python", shutil.which("python3") or "python3"))
# The Python with NumPy the build found (scripts/setup.sh installs it), for the NumPy reference.
config.substitutions.append(("%refpython", config.gemma4c_python))
config.substitutions.append(("%specs", os.path.join(config.gemma4c_src_root, "specs")))
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.add_tool_substitutions(["gemma4c-opt", "gemma4c", "gguf-edit", "g4run"],
                                   [config.gemma4c_tools_dir, config.llvm_tools_dir])

# `REQUIRES: nvcc`: gemma4c compile --target=cuda needs the CUDA compiler (docs/cuda.md).
_nvcc = shutil.which("nvcc") or (
    "/usr/local/cuda/bin/nvcc" if os.access("/usr/local/cuda/bin/nvcc", os.X_OK) else None)
if _nvcc:
    config.available_features.add("nvcc")

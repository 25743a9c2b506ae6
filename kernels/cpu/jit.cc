#include "kernels/cpu/jit.h"

#include "ir/strings.h"
#include "kernels/cpu/target.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/Utils/Cloning.h"

namespace lemma::cpu {
namespace {

std::string ErrorText(llvm::Error error) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << error;
  return os.str();
}

}  // namespace

JitCode::~JitCode() {
  if (tracker_) llvm::consumeError(tracker_->remove());
}

absl::StatusOr<Jit*> Jit::Get() {
  static absl::StatusOr<Jit*>* jit = [] {
    Jit* j = new Jit();
    absl::Status s = j->Init();
    if (!s.ok()) return new absl::StatusOr<Jit*>(s);
    return new absl::StatusOr<Jit*>(j);
  }();
  return *jit;
}

absl::Status Jit::Init() {
  llvm::InitializeNativeTarget();
  llvm::InitializeNativeTargetAsmPrinter();
  llvm::InitializeNativeTargetAsmParser();
  llvm::Expected<llvm::orc::JITTargetMachineBuilder> jtmb =
      llvm::orc::JITTargetMachineBuilder::detectHost();
  if (!jtmb) return absl::InternalError(StrCat("LLVM: ", ErrorText(jtmb.takeError())));
  const CpuTarget& host = HostTarget();
  cpu_ = host.cpu;
  features_ = host.features;
  jtmb->setCPU(cpu_);
  jtmb->getFeatures() = llvm::SubtargetFeatures(features_);
  jtmb->setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  llvm::Expected<std::unique_ptr<llvm::TargetMachine>> tm = jtmb->createTargetMachine();
  if (!tm) return absl::InternalError(StrCat("LLVM: ", ErrorText(tm.takeError())));
  tm_ = std::move(*tm);
  llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>> jit =
      llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(*jtmb)).create();
  if (!jit) return absl::InternalError(StrCat("LLVM: ", ErrorText(jit.takeError())));
  // Kernels may call the C library: LLVM turns loops that fill or copy
  // memory into memset and memcpy calls, resolved in this process.
  llvm::Expected<std::unique_ptr<llvm::orc::DynamicLibrarySearchGenerator>> process =
      llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
          (*jit)->getDataLayout().getGlobalPrefix());
  if (!process) return absl::InternalError(StrCat("LLVM: ", ErrorText(process.takeError())));
  (*jit)->getMainJITDylib().addGenerator(std::move(*process));
  jit_ = std::move(*jit);
  return absl::OkStatus();
}

void Jit::Prepare(llvm::Module& module) const {
  module.setDataLayout(tm_->createDataLayout());
  module.setTargetTriple(tm_->getTargetTriple().str());
}

void Jit::Optimize(llvm::Module& module) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(tm_.get());
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3);
  mpm.run(module, mam);
}

absl::StatusOr<std::shared_ptr<JitCode>> Jit::Load(std::unique_ptr<llvm::Module> module,
                                                   std::unique_ptr<llvm::LLVMContext> context,
                                                   const std::string& name,
                                                   std::string* assembly) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(*module, &os)) {
    return absl::InternalError(StrCat("generated IR is invalid: ", os.str()));
  }
  Optimize(*module);
  if (assembly != nullptr) {
    // Code generation may change the module it runs on: emit from a copy.
    std::unique_ptr<llvm::Module> copy = llvm::CloneModule(*module);
    llvm::SmallString<0> text;
    llvm::raw_svector_ostream out(text);
    llvm::legacy::PassManager pm;
    if (tm_->addPassesToEmitFile(pm, out, nullptr, llvm::CGFT_AssemblyFile)) {
      return absl::InternalError("LLVM cannot emit assembly for the host target");
    }
    pm.run(*copy);
    *assembly = std::string(text.str());
  }
  llvm::orc::ResourceTrackerSP tracker = jit_->getMainJITDylib().createResourceTracker();
  llvm::orc::ThreadSafeModule tsm(std::move(module), std::move(context));
  if (llvm::Error e = jit_->addIRModule(tracker, std::move(tsm))) {
    return absl::InternalError(StrCat("LLVM: ", ErrorText(std::move(e))));
  }
  llvm::Expected<llvm::JITEvaluatedSymbol> symbol = jit_->lookup(name);
  if (!symbol) {
    llvm::consumeError(tracker->remove());
    return absl::InternalError(StrCat("LLVM: ", ErrorText(symbol.takeError())));
  }
  return std::make_shared<JitCode>(symbol->getAddress(), std::move(tracker));
}

}  // namespace lemma::cpu

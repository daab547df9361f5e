// How serving tasks stop under Slurm: the USR1 warning the daemon's submissions carry, and
// the site check of KillWait and GraceTime against the templates (site_check.h).
#include <gtest/gtest.h>

#include <algorithm>

#include "hs/scaler/site_check.h"
#include "hs/scaler/slurm_api.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

using testing::daemon_config_for_test;

constexpr const char* kConfig = R"(
services:
  - name: chat
    variants:
      - {name: v, prefill_gpu: h100, decode_gpu: l40s, ratio: "1:1", decode_tps_per_instance: 100}
    bounds: {min_prefill: 1, max_prefill: 4, min_decode: 1, max_decode: 4}
daemon:
  templates:
    chat: {prefill_script: @DIR@/p.sbatch, decode_script: @DIR@/d.sbatch @EXTRA@}
)";

DaemonConfig config(const std::string& extra = "") {
  return daemon_config_for_test(kConfig, {{"@EXTRA@", extra}});
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(Stops, SubmissionsCarryTheUsr1WarningUnlessTheTemplateSetsOne) {
  SubmitSpec s;
  s.script_path = "/etc/hs/decode.sbatch";
  s.script = "#!/bin/bash\n#SBATCH --gres=gpu:1\nexec hs-launch\n";
  s.signal = "B:USR1@135";
  EXPECT_TRUE(has(sbatch_argv(s, false), "--signal=B:USR1@135"));
  for (const char* own : {"#SBATCH --signal=B:USR1@300\n", "#SBATCH  --signal B:USR1@300\n"}) {
    s.script = std::string("#!/bin/bash\n") + own + "exec hs-launch\n";
    auto a = sbatch_argv(s, false);
    EXPECT_FALSE(std::any_of(a.begin(), a.end(), [](auto& x) {
      return x.rfind("--signal", 0) == 0;
    })) << own;
  }
  EXPECT_FALSE(template_sets("#!/bin/bash\n# --signal in a comment\n", "--signal"));
  EXPECT_FALSE(template_sets("#SBATCH --signalling=x\n", "--signal"));
}

TEST(Stops, TemplateTimingsDefaultToHsLaunchsAndParse) {
  auto d = config();
  EXPECT_EQ(d.daemon.templates.at("chat").stop_warning_s, 135u);
  EXPECT_EQ(d.daemon.templates.at("chat").engine_shutdown_timeout_s, 0u);
  auto c = config(", stop_warning_s: 40, engine_shutdown_timeout_s: 25");
  EXPECT_EQ(c.daemon.templates.at("chat").stop_warning_s, 40u);
  EXPECT_EQ(c.daemon.templates.at("chat").engine_shutdown_timeout_s, 25u);
}

TEST(Stops, KillWaitShorterThanTheEnginesShutdownIsAnErrorNamingBoth) {
  SlurmSiteConfig site;
  site.kill_wait_s = 5;
  auto f = check_site(site, config(", engine_shutdown_timeout_s: 30"));
  ASSERT_EQ(f.errors.size(), 1u);
  std::string e = f.errors[0].to_string();
  EXPECT_NE(e.find("daemon.templates.chat.engine_shutdown_timeout_s"), std::string::npos) << e;
  EXPECT_NE(e.find("KillWait=5"), std::string::npos) << e;
  EXPECT_NE(e.find("at least 30"), std::string::npos) << e;
  EXPECT_NE(e.find("test.yaml"), std::string::npos) << e;
  site.kill_wait_s = 30;
  EXPECT_TRUE(check_site(site, config(", engine_shutdown_timeout_s: 30")).errors.empty());
  // Engines that abort on TERM (vLLM before 0.18): nothing for KillWait to cover.
  site.kill_wait_s = 5;
  EXPECT_TRUE(check_site(site, config()).errors.empty());
}

TEST(Stops, PreemptionWithoutUserSignalOrWithShortGraceTimeWarns) {
  SlurmSiteConfig site;
  site.partitions = {
      {"gpu", true, true, 30}, {"serve", false, true, 600}, {"vip", false, false, 0}};
  // Preemption off: GraceTime does not matter.
  auto off = check_site(site, config());
  EXPECT_TRUE(off.warnings.empty() && off.errors.empty());
  site.preempt_type = "preempt/partition_prio";
  auto f = check_site(site, config());  // the default partition "gpu", GraceTime 30 < 135
  ASSERT_EQ(f.warnings.size(), 2u);
  EXPECT_NE(f.warnings[0].find("preempt_send_user_signal"), std::string::npos) << f.warnings[0];
  EXPECT_NE(f.warnings[1].find("partition gpu has GraceTime=30"), std::string::npos)
      << f.warnings[1];
  EXPECT_TRUE(f.errors.empty());
  site.preempt_user_signal = true;
  EXPECT_TRUE(check_site(site, config(", partition: serve")).warnings.empty());
  EXPECT_TRUE(check_site(site, config(", partition: vip")).warnings.empty());  // never preempted
  auto missing = check_site(site, config(", partition: nosuch"));
  ASSERT_EQ(missing.warnings.size(), 1u);
  EXPECT_NE(missing.warnings[0].find("no partition nosuch"), std::string::npos);
}

}  // namespace
}  // namespace hs::scaler

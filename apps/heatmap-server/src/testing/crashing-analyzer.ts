import type { AnalyzerOptions, CaseAnalyzer, PluginInfo } from '../analyzer.js';
import { SyntheticAnalyzer } from './synthetic-analyzer.js';

/**
 * A TEST DOUBLE for the analysis process: the synthetic analyzer, except that a case uploaded
 * under a name containing "poison" kills its process outright (as the kernel's OOM killer would).
 */
export async function createAnalyzer(
  options: AnalyzerOptions & { backbone: string; pluginInfos: PluginInfo[] },
): Promise<CaseAnalyzer> {
  return new SyntheticAnalyzer({ name: options.backbone, hash: 'sha256:aaaa' }, options.pluginInfos, {
    beforeAnalyze: async (request) => {
      if (request.caseName?.includes('poison')) process.kill(process.pid, 'SIGKILL');
    },
  });
}

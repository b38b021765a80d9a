"""official_eval.py — the import set-up shared by the scripts that load the official evaluation
code (saicinpainting/evaluation: losses/ssim.py, losses/lpips.py, losses/fid/inception.py,
losses/base_loss.py, evaluator.py) from $LAMA_REF on Debian's python3-torch:
tests/ref/gen_eval_fixtures.py (parity fixtures) and tests/ref/bench_official_eval.py (timing).

install(lama) puts stubs in sys.modules for imports those modules make but the code paths used
here never call (skimage in lpips.py, sklearn/joblib and the ADE20k segmentation model in
base_loss.py, tqdm/easydict in evaluator/utils, pytorch_lightning), then puts the official
checkout first on sys.path. No official code is copied here."""
import sys
import types

STUBBED = ['skimage', 'skimage.metrics', 'sklearn', 'sklearn.svm', 'joblib', 'tqdm', 'tqdm.auto',
           'easydict', 'models', 'models.ade20k', 'pytorch_lightning']


def install(lama):
    for m in STUBBED:
        sys.modules[m] = types.ModuleType(m)
    sys.modules['skimage.metrics'].structural_similarity = None
    sys.modules['joblib'].Parallel = sys.modules['joblib'].delayed = None
    sys.modules['tqdm'].auto = sys.modules['tqdm.auto']
    sys.modules['tqdm.auto'].tqdm = sys.modules['tqdm'].tqdm = lambda x, **k: x
    sys.modules['easydict'].EasyDict = dict
    sys.modules['pytorch_lightning'].seed_everything = None
    ade = sys.modules['models.ade20k']
    ade.SegmentationModule, ade.NUM_CLASS, ade.segm_options = None, 150, {}
    sys.path.insert(0, lama)

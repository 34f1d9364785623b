"""`brushwork train fast|multistyle|adain|student|pix2pix|cyclegan|cut|photowct`: our own networks, into .bw files."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Callable

import brushwork

from . import args, options
from .render import ProgressBar

# Options that go to the training function as they are (under the same name).
TRAIN_OPTIONS = ("steps", "batch_size", "size", "lr", "lr_decay", "scale_jitter", "checkpoint_every",
                 "preview_every", "seed", "workers", "content_weight", "style_weight", "tv_weight", "style_size",
                 "minutes", "direction", "ngf", "ndf", "downs", "l1_weight", "gan_weight", "gan_mode", "upsample", "holdout",
                 "more_pairs", "generator", "vgg_weight", "augment",
                 "cycle_weight", "identity_weight", "pool_size", "fast", "nce_weight", "patches", "feature_weight", "gram_weight",
                 "painting_weight", "style_hidden", "init")


def run_train(a: argparse.Namespace) -> int:
    from ..feedforward.train import checkpoint_path
    from ..paths import check_not_input
    inputs = {"fast": lambda: [a.style], "multistyle": lambda: a.styles}
    check_not_input(a.output, inputs.get(a.kind, list)())
    kw = {k: getattr(a, k) for k in TRAIN_OPTIONS if hasattr(a, k)}
    if a.no_checkpoints:
        kw["checkpoint_every"] = None
    kw.update(resume=a.resume, device=a.device, dtype=a.dtype)
    bar = ProgressBar(a.quiet)
    try:
        if a.kind == "fast":
            model = brushwork.train_fast(a.style, a.output, a.data, callback=bar, **kw)
        elif a.kind == "multistyle":
            model = brushwork.train_multistyle(a.styles, a.output, a.data, callback=bar, **kw)
        elif a.kind == "adain":
            model = brushwork.train_adain(a.output, a.content, a.styles, callback=bar, **kw)
        elif a.kind == "student":
            model = brushwork.train_student(a.output, a.content, a.styles, callback=bar, **kw)
        elif a.kind == "photowct":
            model = brushwork.train_photowct(a.output, a.data, callback=bar, **kw)
        elif a.kind == "pix2pix":
            model = brushwork.train_pix2pix(a.data, a.output, callback=bar, **kw)
        else:
            train = brushwork.train_cyclegan if a.kind == "cyclegan" else brushwork.train_cut
            model = train(a.a, a.b, a.output, callback=bar, **kw)
    finally:
        bar.close()
    if not a.quiet:
        t = model.card["training"]
        losses = ", ".join(f"{k} {v:.4g}" for k, v in t.get("final_losses", {}).items())
        steps = t["steps"] if t.get("planned_steps", t["steps"]) == t["steps"] else \
            f"{t['steps']} of {t['planned_steps']}"
        print(f"wrote {a.output} ({steps} steps; final losses {losses}); checkpoint "
              f"{checkpoint_path(a.output)}", file=sys.stderr)
    return 0


def _training_options(p: argparse.ArgumentParser, func: Callable[..., Any]) -> None:
    d = lambda name: options.api_default(func, name)  # noqa: E731
    g = p.add_argument_group("training")
    g.add_argument("--steps", type=args.positive_int, default=d("steps"),
                   help=f"optimisation steps (default {d('steps')})")
    g.add_argument("--batch-size", type=args.positive_int, default=d("batch_size"),
                   help=f"images per step (default {d('batch_size')})")
    g.add_argument("--size", type=args.positive_int, default=d("size"),
                   help=f"side of the square training crops in px (default {d('size')})")
    if "lr_decay" in options.parameters(func):
        lr = f"{d('lr'):g}" + (f" with decay {d('lr_decay'):g}" if d("lr_decay") else "")
        g.add_argument("--lr", type=args.non_negative, default=d("lr"), help=f"Adam learning rate (default {lr})")
        g.add_argument("--lr-decay", type=args.non_negative, default=d("lr_decay"), help="lr / (1 + decay × step)")
    else:
        g.add_argument("--lr", type=args.non_negative, default=d("lr"),
                       help=f"Adam learning rate (default {d('lr'):g}): constant for half the steps, then linearly to 0")
    g.add_argument("--scale-jitter", type=args.jitter, default=d("scale_jitter"), metavar="LO,HI",
                   help="crops come from images scaled so the short side is size × LO..HI (default "
                   f"{','.join(f'{v:g}' for v in d('scale_jitter'))})")
    g.add_argument("--seed", type=int, default=d("seed"),
                   help="random seed: the same seed gives the same network on the same machine")
    g.add_argument("--checkpoint-every", type=args.positive_int, default=d("checkpoint_every"), metavar="N",
                   help=f"save weights and optimiser state to OUT.ckpt every N steps (default {d('checkpoint_every')})")
    g.add_argument("--no-checkpoints", action="store_true", help="only the final checkpoint")
    g.add_argument("--resume", action="store_true", default=d("resume"),
                   help="continue from OUT.ckpt (same options; --steps may grow)")
    g.add_argument("--minutes", type=float, default=d("minutes"), metavar="M",
                   help="stop after M minutes even if --steps are not done; the model and checkpoint are saved "
                   "and --resume continues")
    g.add_argument("--preview-every", type=args.positive_int, default=d("preview_every"), metavar="N",
                   help="save a preview painting every N steps as OUT.stepNNNNNN.png")
    r = p.add_argument_group("running")
    options.device(r, func, "where to train (default auto: cuda > mps > cpu)")
    options.dtype(r, func, "autocast precision (default auto: bf16 on CUDA, fp32 elsewhere)",
                  choices=("auto", "float32", "bfloat16"))
    r.add_argument("--workers", type=int, default=d("workers"),
                   help="threads preparing batches ahead (default 4 on a GPU, 0 on CPU)")
    options.quiet(r)
    p.add_argument("-o", "--output", required=True, type=Path, help="the model file to write (.bw)")
    p.set_defaults(func=run_train)


def _loss_options(p: argparse.ArgumentParser, func: Callable[..., Any]) -> None:
    d = lambda name: options.api_default(func, name)  # noqa: E731
    g = p.add_argument_group("losses")
    g.add_argument("--content-weight", type=args.non_negative, default=d("content_weight"),
                   help=f"content loss multiplier (default {d('content_weight'):g})")
    g.add_argument("--style-weight", type=args.non_negative, default=d("style_weight"),
                   help=f"style loss multiplier: more = more style (default {d('style_weight'):g})")
    if "tv_weight" in options.parameters(func):
        g.add_argument("--tv-weight", type=args.non_negative, default=d("tv_weight"),
                       help=f"smoothness multiplier, 0 = off (default {d('tv_weight'):g})")
        g.add_argument("--style-size", type=args.positive_int, default=d("style_size"),
                       help=f"long side of the style image(s) in px (default {d('style_size')})")


def _translation_options(p: argparse.ArgumentParser, func: Callable[..., Any]) -> None:
    d = lambda name: options.api_default(func, name)  # noqa: E731
    params = options.parameters(func)
    g = p.add_argument_group("networks and losses")
    g.add_argument("--ngf", type=args.positive_int, default=d("ngf"),
                   help=f"generator width: filters of its first layer (default {d('ngf')}; 16-32 train on a CPU)")
    g.add_argument("--ndf", type=args.positive_int, default=d("ndf"),
                   help=f"discriminator width (default {d('ndf')})")
    if "generator" in params:
        g.add_argument("--generator", choices=("resnet6", "resnet9"), default=d("generator"),
                       help=f"ResNet generator with 6 or 9 residual blocks (default {d('generator')})")
    if "downs" in params:
        g.add_argument("--downs", type=args.positive_int, default=d("downs"),
                       help="U-Net levels (default: log2 of --size: 7 for 128 px, 8 for 256)")
        g.add_argument("--direction", choices=("AtoB", "BtoA"), default=d("direction"),
                       help=f"learn A -> B or B -> A (default {d('direction')})")
        g.add_argument("--l1-weight", type=args.non_negative, default=d("l1_weight"),
                       help=f"λ of the L1 loss to the true image (default {d('l1_weight'):g})")
        g.add_argument("--gan-weight", type=args.non_negative, default=d("gan_weight"),
                       help=f"weight of the adversarial loss; 0 = the plain L1 U-Net (default {d('gan_weight'):g})")
        g.add_argument("--gan-mode", choices=("vanilla", "lsgan"), default=d("gan_mode"),
                       help=f"adversarial loss (default {d('gan_mode')})")
        g.add_argument("--upsample", choices=("transposed", "resize"), default=d("upsample"),
                       help="the U-Net's way up: transposed convs (the paper's) or nearest doubling + conv, "
                            f"which paints no checkerboard (default {d('upsample')})")
        g.add_argument("--vgg-weight", type=args.non_negative, default=d("vgg_weight"),
                       help="weight of pix2pixHD's VGG-19 feature loss to the true image; 10 is pix2pixHD's "
                            f"(default {d('vgg_weight'):g}: the paper's pix2pix)")
        g.add_argument("--augment", action="store_true",
                       help="show the discriminator DiffAugmented pairs (colour, shift, cutout): it then "
                            "memorises a few hundred photos far later")
        g.add_argument("--holdout", type=int, default=d("holdout"), metavar="N",
                       help="keep the last N pairs (by name) out of training (the card lists them)")
    if "cycle_weight" in params:
        g.add_argument("--cycle-weight", type=args.non_negative, default=d("cycle_weight"),
                       help=f"λ of the cycle losses (default {d('cycle_weight'):g})")
        g.add_argument("--identity-weight", type=args.non_negative, default=d("identity_weight"),
                       help=f"identity loss as a fraction of λ, 0 = off (default {d('identity_weight'):g})")
        g.add_argument("--pool-size", type=int, default=d("pool_size"),
                       help=f"generated images the discriminators remember (default {d('pool_size')})")
    if "fast" in params:
        g.add_argument("--fast", action="store_true", help="FastCUT: no identity NCE, λ_NCE 10")
        g.add_argument("--nce-weight", type=args.non_negative, default=d("nce_weight"),
                       help="λ of PatchNCE (default 1, FastCUT 10)")
        g.add_argument("--patches", type=args.positive_int, default=d("patches"),
                       help=f"patches sampled per feature layer (default {d('patches')})")


def register(sub: Any) -> None:
    """Add `train` with its kinds fast, multistyle and adain to the subcommands `sub`."""
    tr = sub.add_parser("train", help="train your own network (fast, multistyle, AdaIN, pix2pix, CycleGAN, CUT, PhotoWCT) "
                        "into a .bw file",
                        description="Train a feed-forward network: one pass paints a photo afterwards. "
                        "Real runs want a GPU (minutes to hours); see README 'Training your own networks'.",
                        epilog="examples:\n  brushwork train fast --style wave.jpg -o wave.bw\n"
                        "  brushwork train multistyle --styles a.jpg b.jpg c.jpg -o set.bw\n"
                        "  brushwork train adain -o adain.bw\n"
                        "  brushwork train fast --style wave.jpg -o wave.bw --steps 40000 --resume\n"
                        "  brushwork train pix2pix --data paired/edges2photo -o edges2photo.bw\n"
                        "  brushwork train cyclegan --a photos/ --b paintings/ -o photo2art.bw\n"
                        "  brushwork train cut --a photos/ --b paintings/ -o photo2art_cut.bw --fast\n"
                        "  brushwork train photowct -o photowct.bw",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds = tr.add_subparsers(dest="kind", metavar="KIND", parser_class=args.Parser, required=True)
    data_help = "folder of training photos, searched recursively (default $BRUSHWORK_DATA/photos)"

    f = kinds.add_parser("fast", help="one style (Johnson et al. 2016)")
    f.add_argument("--style", required=True, help="the style image")
    f.add_argument("--data", type=Path, help=data_help)
    _loss_options(f, brushwork.train_fast)
    _training_options(f, brushwork.train_fast)

    ms = kinds.add_parser("multistyle", help="several styles in one network, blendable (Dumoulin et al. 2017)")
    ms.add_argument("--styles", nargs="+", required=True, metavar="IMAGE", help="two or more style images")
    ms.add_argument("--data", type=Path, help=data_help)
    _loss_options(ms, brushwork.train_multistyle)
    _training_options(ms, brushwork.train_multistyle)

    ad = kinds.add_parser("adain", help="any style at run time: an AdaIN decoder (Huang & Belongie 2017)")
    ad.add_argument("--content", type=Path, help=data_help)
    ad.add_argument("--styles", type=Path, help="folder of style images (default $BRUSHWORK_DATA/paintings)")
    ad.add_argument("--init", metavar="FILE", default=None,
                    help="start the decoder from a trained one: an adain .bw, or a photowct .bw ('photowct': the "
                    "shipped decoders; their relu4_1 decoder has the same convolutions)")
    _loss_options(ad, brushwork.train_adain)
    _training_options(ad, brushwork.train_adain)

    st = kinds.add_parser("student", help="any style, faster: a small network distilled from the ONNX "
                          "arbitrary-style network (apply --style S --model student.bw)")
    st.add_argument("--content", type=Path, help=data_help)
    st.add_argument("--styles", type=Path, help="folder of style images (default $BRUSHWORK_DATA/paintings)")
    for flag, kind, what in (
            ("feature_weight", args.non_negative, "weight of the VGG-19 feature distance to the teacher's painting, "
             "beside pixel L1"),
            ("gram_weight", args.non_negative, "weight of the Gram (texture) distance to the teacher's painting"),
            ("painting_weight", args.non_negative, "weight of the relative Gram distance to the painting itself "
             "(0: copy the teacher only)"),
            ("style_size", args.positive_int, "long side in px the paintings' Gram matrices are taken at")):
        default = options.api_default(brushwork.train_student, flag)
        st.add_argument("--" + flag.replace("_", "-"), type=kind, default=default, help=f"{what} (default {default:g})")
    from ..feedforward.student import STYLE_HIDDEN
    st.add_argument("--style-hidden", type=args.non_negative_int, default=None, metavar="N",
                    help=f"the style vector through a learnt layer of N before the norms (0: norms linear in it; "
                    f"default {STYLE_HIDDEN}, or --init's)")
    st.add_argument("--init", metavar="FILE", default=None,
                    help="start from a trained student .bw (its weights and size), e.g. to train on with other "
                    "loss weights")
    _training_options(st, brushwork.train_student)

    pw = kinds.add_parser("photowct", help="PhotoWCT's decoders for `brushwork photo --method wct` (Li et al. 2018)")
    pw.add_argument("--data", type=Path, help=data_help)
    pw.add_argument("--holdout", type=args.positive_int, default=options.api_default(brushwork.train_photowct, "holdout"),
                    metavar="N", help="photos kept out of training to measure the reconstruction PSNR on")
    pw.add_argument("--feature-weight", type=args.non_negative,
                    default=options.api_default(brushwork.train_photowct, "feature_weight"),
                    help="weight of the feature reconstruction loss beside the pixel loss")
    _training_options(pw, brushwork.train_photowct)

    px = kinds.add_parser("pix2pix", help="paired image translation, A/ -> B/ (Isola et al. 2017)")
    px.add_argument("--data", type=Path, required=True,
                    help="folder with A/ and B/ holding images of the same names and sizes")
    px.add_argument("--more-pairs", type=Path, metavar="DIR",
                    help="a second such folder, only trained on (never held out): e.g. edge maps made "
                         "from more photos with a B -> A model")
    _translation_options(px, brushwork.train_pix2pix)
    _training_options(px, brushwork.train_pix2pix)
    for name, func, text in (("cyclegan", brushwork.train_cyclegan,
                              "unpaired translation both ways, A <-> B (Zhu et al. 2017)"),
                             ("cut", brushwork.train_cut, "unpaired translation one way, A -> B, cheaper than "
                              "CycleGAN (contrastive, Park et al. 2020)")):
        un = kinds.add_parser(name, help=text)
        un.add_argument("--a", type=Path, required=True, help="folder of domain A images (searched recursively)")
        un.add_argument("--b", type=Path, required=True, help="folder of domain B images")
        _translation_options(un, func)
        _training_options(un, func)

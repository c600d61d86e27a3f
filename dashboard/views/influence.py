"""The influence page: which training images explain a prediction, and how fragile is that?"""

from __future__ import annotations

import time

import streamlit as st
import torch

import fragility as fg
from fragility.data import DEFAULT_HESSIAN_IMAGES
from fragility.influence import DEFAULT_DAMPING, DEFAULT_GAMMA
from fragility.smooth import DEFAULT_BETA

from ..components import details, figures, live, panels, state
from ..components.choices import Choices

DEFAULT_TRAIN = 200     # training images scored: the whole run takes seconds on a laptop CPU
MAX_TRAIN = 4096
MAX_HESSIAN = 16_384
FORMS = ("Iterative: the sidebar's steps and step size", "One signed step of ε (the paper's attack)")
STRIP_TILE = 128
ATTACK = fg.influence_attack    # looked up at run time (tests replace it)
INFLUENCE_PAPERS = (
    "Koh & Liang, *Understanding Black-box Predictions via Influence Functions*, ICML 2017 "
    "([arXiv:1703.04730](https://arxiv.org/abs/1703.04730)); Ghorbani, Abid & Zou, "
    "*Interpretation of Neural Networks is Fragile*, AAAI 2019 "
    "([arXiv:1710.10547](https://arxiv.org/abs/1710.10547))")


@st.cache_resource(show_spinner="Rendering the model's training images…", max_entries=2)
def training_images(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The bundled model's first n training images and labels, shared by all sessions."""
    return fg.training_set("bundled", n=n)


@st.cache_resource(show_spinner="Rendering the training images of the Hessian…", max_entries=2)
def hessian_images(n: int) -> torch.Tensor:
    """The last n images of the bundled model's training run: the sample H is averaged over."""
    return fg.data.hessian_sample("bundled", n=n)


def render(choices: Choices) -> None:
    st.title("Which training images explain this prediction?")
    st.markdown(
        f"Influence functions ({INFLUENCE_PAPERS}) score every training image by how much "
        "giving it more weight in training would lower the loss at this image (**helpful**, "
        "positive score) or raise it (**harmful**, negative). The attack changes the image by "
        "at most ε per pixel, keeps the predicted label, and pushes the most helpful training "
        "images down the ranking. ε, steps, step size, β and seed come from the sidebar's "
        "*Attack* section.")
    st.caption(
        "What is approximated: only the last layer's weights move (the network below it is a fixed "
        "feature map); its Hessian H is averaged over a sample of training images, none of them "
        "scored; H + λI is inverted with λ a share of H's mean eigenvalue, and where H's "
        "eigenvalues are far below λ (most of them, on a confident model) λ rather than the data "
        "sets the scores: the page reports how much the ranking moves at λ/10 and 10λ.")
    if not choices.ready:
        for message in choices.errors:
            st.error(message)
        return
    if not choices.model_key.startswith("bundled"):    # also the bundled model with your labels
        st.info("Influence scores need the model's training data, and only the bundled model's is "
                "known here: choose **Bundled (offline)** in the sidebar.")
        return
    train_column, hessian_column, k_column, gamma_column, damping_column = st.columns(
        [1.4, 1.4, 1, 1, 1], vertical_alignment="bottom")
    n_train = int(train_column.number_input(
        "Training images scored", 10, MAX_TRAIN, DEFAULT_TRAIN, step=50, key="influence_train",
        help="The first N images the bundled model was trained on (fg.training_set). Each is "
             "scored at every step; more images take longer."))
    k = int(k_column.number_input("k (most helpful)", 1, 20, 5, key="influence_k",
                                  help="How many of the most helpful training images the attack "
                                       "pushes down, and the top-k intersection compares."))
    gamma = float(gamma_column.number_input(
        "γ (holds the label)", 0.0, 100.0, DEFAULT_GAMMA, key="influence_gamma",
        help="Weight of log p(predicted class) in the attack's steps; 0 follows the "
             "dissimilarity alone, which soon changes the label."))
    n_hessian = int(hessian_column.number_input(
        "Hessian images", 100, MAX_HESSIAN, DEFAULT_HESSIAN_IMAGES, step=256, key="influence_hessian",
        help="Training images the Hessian H is averaged over: the last N of the training run, "
             "separate from the scored ones."))
    damping = float(damping_column.number_input(
        "Damping (× mean eigenvalue)", 1e-4, 100.0, DEFAULT_DAMPING, format="%g", key="influence_damping",
        help="λ added to H, as a share of H's mean eigenvalue."))
    form_column, run_column = st.columns([4, 1.2], vertical_alignment="bottom")
    form = form_column.radio("Attack", FORMS, horizontal=True, key="influence_form",
                             help="Ghorbani et al. took one signed step of the whole budget ε; the "
                                  "iterative version takes the sidebar's steps of its step size.")
    shared = choices.parameters     # the sidebar's attack settings, where that attack has them
    epsilon = shared.get("epsilon", 8 / 255)
    single = form == FORMS[1]
    settings = dict(n_train=n_train, n_hessian=n_hessian, damping=damping, k=min(k, n_train), gamma=gamma,
                    epsilon=epsilon, steps=1 if single else shared.get("steps", 100),
                    step_size=epsilon if single else shared.get("step_size", 1 / 255),
                    beta=shared.get("beta", DEFAULT_BETA), seed=shared.get("seed", 0))
    key = state.config_key({"page": "influence", "model": choices.model_key,
                            "image": choices.image_key, **settings})
    if run_column.button("Run", icon=":material/play_arrow:", type="primary", key="run_influence",
                         width="stretch"):
        state.start_job(key, _work(choices, settings), total=settings["steps"])
    job = state.jobs().get(key)
    if job is None:
        columns = st.columns(6)
        columns[0].image(panels.to_pil(choices.image), caption=f"Test image: {_prediction(choices)}",
                         width="stretch")
        steps = ("one signed step of ε" if single else
                 f"{settings['steps']} steps within ε = {settings['epsilon'] * 255:g}/255")
        st.caption(f"Press **Run**: the {n_train} training images are scored (H from {n_hessian} others), "
                   f"then the attack takes {steps}, then random sign noise of the same size, "
                   f"{settings['steps']} draws, as the baseline.")
    elif job.running:
        _live(job, choices, settings)
    elif job.error:
        st.error(job.error)
    else:
        _finished(job, choices, settings)


def _prediction(choices: Choices) -> str:
    name, confidence = state.predictions(choices.model, choices.image[None])[0]
    return f"{name} ({confidence:.0%})"


# ---------------------------------------------------------------- computing (worker thread)

def _work(choices: Choices, settings: dict):
    model, images = choices.model, choices.image[None]

    def work(job: state.Job):
        job.phase = "rendering the training images"
        train, labels = training_images(settings["n_train"])
        sample = hessian_images(settings["n_hessian"])
        job.phase = "scoring the training images"
        job.started = time.monotonic()

        def callback(step: int, row: dict) -> bool:
            if row["run"] == "random-sign" and job.phase == "attack":
                job.phase, job.step = "random-sign baseline", 0
            elif row["run"] == "attack":
                job.phase = "attack"
            (job.history if row["run"] == "attack" else job.baseline_history).append(
                {name: value for name, value in row.items() if not isinstance(value, torch.Tensor)})
            job.snapshot = {"run": row["run"], "step": step, "perturbed": row["perturbed"].detach().clone(),
                            "perturbed_scores": row["perturbed_scores"].detach().clone(),
                            "original_scores": row["original_scores"]}
            job.step = step
            return not job.stop.is_set()
        result = ATTACK(model, images, train, labels, epsilon=settings["epsilon"], steps=settings["steps"],
                        step_size=settings["step_size"], k=settings["k"], seed=settings["seed"],
                        callback=callback, beta=settings["beta"], gamma=settings["gamma"],
                        damping=settings["damping"], hessian_images=sample)
        job.predictions = (state.predictions(model, images)[0],
                           state.predictions(model, result.perturbed)[0])
        return result
    return work


# ---------------------------------------------------------------- drawing

def _live(job: state.Job, choices: Choices, settings: dict) -> None:
    def content():
        snapshot = job.snapshot
        if snapshot is None:
            return
        train, labels = training_images(settings["n_train"])
        original, current = snapshot["original_scores"][0].cpu(), snapshot["perturbed_scores"][0].cpu()
        which = "attack" if snapshot["run"] == "attack" else "random sign"
        note = f"best {which} perturbation so far (step {snapshot['step']})"
        columns = st.columns(6)
        columns[0].image(panels.to_pil(choices.image), caption="Original", width="stretch")
        columns[1].image(panels.to_pil(snapshot["perturbed"][0]), caption=note.capitalize(), width="stretch")
        _strips(choices.model, train, labels, original, current, settings["k"], note)
        _charts(job.history, job.baseline_history, settings)
    live.show(job, "stop_influence", _progress_text, content, fraction=_fraction)


def _counted(job: state.Job) -> bool:
    return job.phase in ("attack", "random-sign baseline")


def _progress_text(job: state.Job) -> str:
    return f"{job.phase}: step {job.step} of {job.total}" if _counted(job) else f"{job.phase}…"


def _fraction(job: state.Job) -> float:
    return job.step / max(job.total, 1) if _counted(job) else 0.0


def _finished(job: state.Job, choices: Choices, settings: dict) -> None:
    result: fg.InfluenceResult = job.result
    baseline = result.baseline
    if result.stopped_early:
        st.warning(f"Stopped after {result.steps_run} of {settings['steps']} steps: showing the best "
                   f"perturbation found so far (random sign got as many draws).")
    else:
        st.success(f"Finished {result.steps_run} steps and {baseline.steps_run} random-sign draws "
                   f"in {job.elapsed():.1f} s.")
    before, after = job.predictions
    train, labels = training_images(settings["n_train"])
    found = bool(result.found[0])
    columns = st.columns(6)
    columns[0].image(panels.to_pil(choices.image), caption=f"Original: {before[0]} ({before[1]:.0%})",
                     width="stretch")
    if not found:
        st.warning(f"No label-keeping perturbation found in {result.steps_run} steps: no iterate kept "
                   f"the label '{before[0]}' and lowered the influence of the {settings['k']} most "
                   "helpful training images. The scores below are the original image's.")
        _strips(choices.model, train, labels, result.original_scores[0].cpu(), None, settings["k"], "")
    else:
        columns[1].image(panels.to_pil(result.perturbed[0]),
                         caption=f"Perturbed: {after[0]} ({after[1]:.0%})", width="stretch")
        columns[2].image(panels.perturbation(choices.image, result.perturbed[0], settings["epsilon"]),
                         caption=f"Perturbation ×{127.5 / (settings['epsilon'] * 255):.0f} "
                                 f"(grey = 0, ±{settings['epsilon'] * 255:g}/255)", width="stretch")
        _cards(result, settings["k"])
        _strips(choices.model, train, labels, result.original_scores[0].cpu(),
                result.perturbed_scores[0].cpu(), settings["k"], "after the attack")
    st.markdown(damping_note(result))
    _charts(result.history, baseline.history, settings)   # the baseline's also after a Stop
    with details.expander("Details: configuration and surrogate", "influence_details") as box:
        if box.open:
            st.markdown(f"Differentiated through: {result.surrogate}. Dissimilarity: "
                        f"{result.config['dissimilarity']}.")
            details.show(result.config)


def damping_note(result: fg.InfluenceResult) -> str:
    """How much λ, not the data, sets the ranking: the damping-sensitivity figure."""
    config, sensitivity = result.config, result.damping_sensitivity
    return (f"**Damping sensitivity.** λ = {config['damping']:g} × H's mean eigenvalue = "
            f"{config['damping_absolute']:.3g}, with {config['eigenvalues_below_damping']:,} of H's "
            f"{config['theta_size']:,} eigenvalues below it (H from {config['hessian_images']:,} training "
            f"images). Spearman of the original scores at λ/10 against λ: "
            f"**{float(sensitivity['tenth'][0]):.2f}**, at 10λ: **{float(sensitivity['tenfold'][0]):.2f}** "
            "(1: the ranking does not depend on λ). Read the attack's and random sign's Spearman "
            "beside these: a ranking that a tenfold change of λ moves this much is set partly by λ.")


def _cards(result: fg.InfluenceResult, k: int) -> None:
    attack, random = result.metrics, result.baseline.metrics
    random_found = bool(result.baseline.found[0])

    def reference(name: str, form: str) -> str:
        if not random_found:
            return "random sign: no draw kept the label and lowered it"
        return "random sign: " + format(float(random[name][0]), form)

    cards = [
        (f"Top-{k} intersection", f"{float(attack['top_k_intersection'][0]):.0%}",
         reference("top_k_intersection", ".0%"),
         f"share of the {k} most helpful training images that are still among the {k} most helpful"),
        ("Spearman ρ", f"{float(attack['spearman'][0]):.2f}", reference("spearman", ".2f"),
         "rank correlation of all training images' scores before and after: 1 = same ranking"),
        (f"Top-{k} influence (was {float(attack['top_k_influence_before'][0]):.2f})",
         f"{float(attack['top_k_influence_after'][0]):.2f}", reference("top_k_influence_after", ".2f"),
         f"total score of the originally most helpful {k}, each score vector scaled to length 1: "
         "what the attack lowers"),
        ("Label kept", "yes" if bool(result.labels_kept[0]) else "no",
         "random sign: " + ("yes" if bool(result.baseline.labels_kept[0]) else "no"),
         "the attack only accepts changes that keep the predicted label"),
    ]
    below = (f" Below it, random sign noise of the same ε: the best of {result.baseline.steps_run} "
             "label-keeping draws by the same criterion.")
    for column, (label, shown, note, help_text) in zip(st.columns(len(cards)), cards):
        column.metric(label, shown, delta=note, delta_color="off", delta_arrow="off",
                      help=help_text + below, border=True)


def _strips(model: fg.Model, train: torch.Tensor, labels: torch.Tensor, original: torch.Tensor,
            current: torch.Tensor | None, k: int, after: str) -> None:
    """Most helpful and most harmful training images, before and (if any) after."""
    helpful_before = original.topk(k).indices.tolist()
    harmful_before = (-original).topk(k).indices.tolist()
    for title, before, largest in (("Most helpful", helpful_before, True),
                                   ("Most harmful", harmful_before, False)):
        st.subheader(title)
        _strip(model, train, labels, original, before, "before", before)
        if current is not None:
            chosen = (current if largest else -current).topk(k).indices.tolist()
            _strip(model, train, labels, current, chosen, after, before)


def _strip(model, train, labels, scores, indices: list[int], row_title: str, before: list[int]) -> None:
    columns = st.columns([1.1] + [1] * len(indices), vertical_alignment="center")
    columns[0].markdown(f"**{row_title}**")
    for column, index in zip(columns[1:], indices):
        name = model.label_name(int(labels[index]))
        moved = "" if row_title == "before" else (
            f" · was #{before.index(index) + 1}" if index in before else " · new")
        column.image(panels.to_pil(train[index], size=STRIP_TILE),
                     caption=f"#{index} {name} · {float(scores[index]):+.3g}{moved}", width="stretch")


def _charts(history: list[dict], baseline: list[dict], settings: dict) -> None:
    left, right = st.columns(2)
    k = settings["k"]
    name = f"random sign (best of {len(baseline) or settings['steps']} draws)"
    left.plotly_chart(figures.per_step(history, baseline, "top_k_intersection",
                                       f"Top-{k} intersection of the most helpful, per step",
                                       settings["steps"], baseline_name=name),
                      key="chart_influence_topk", config={"displayModeBar": False})
    right.plotly_chart(figures.per_step(history, baseline, "spearman",
                                        "Spearman rank correlation of all scores, per step",
                                        settings["steps"], baseline_name=name),
                       key="chart_influence_spearman", config={"displayModeBar": False})

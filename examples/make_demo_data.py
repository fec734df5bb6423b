"""Writes examples/demo.jsonl and examples/demo.qrels: a small demo set written for listrank.

Each passage is (grade, text); grades 0-3. Candidates are listed in a deliberately imperfect
"first-stage" order, with first-stage scores that decrease down the list.
"""

from __future__ import annotations

import json
from pathlib import Path

QUERIES: dict[str, tuple[str, list[tuple[int, str]]]] = {
    "bees": (
        "how do honeybees tell other bees where to find food",
        [
            (
                0,
                "Honey is made when bees store nectar in wax cells and fan it with their wings until most of the water evaporates.",
            ),
            (
                0,
                "A beekeeper's smoker calms bees by masking the alarm pheromones that guard bees release when the hive is opened.",
            ),
            (
                1,
                "Forager bees visit flowers for nectar and pollen and can fly several kilometres from the hive on a single trip.",
            ),
            (
                0,
                "Bumblebees are larger and hairier than honeybees and live in small colonies that last for one season.",
            ),
            (
                3,
                "A forager that has found a rich patch of flowers performs a waggle dance on the comb: the angle of the straight run relative to vertical shows the direction of the food relative to the sun, and the length of the run tells the distance.",
            ),
            (
                0,
                "The queen bee can lay up to two thousand eggs a day during the peak of the summer season.",
            ),
            (
                0,
                "Wax moths can destroy stored honeycomb, so beekeepers freeze frames before putting them away for winter.",
            ),
            (
                2,
                "When food is close to the hive, a returning forager performs a round dance, which tells nestmates to search nearby without giving a precise direction.",
            ),
            (
                0,
                "Bees see ultraviolet light, which reveals patterns on petals that are invisible to the human eye.",
            ),
            (
                0,
                "Varroa mites are parasites that feed on honeybees and spread viruses between colonies.",
            ),
            (
                2,
                "Recruited bees follow the dancer closely, pick up the scent of the flowers from her body, and then fly out in the direction she indicated.",
            ),
            (
                0,
                "Drones are male bees whose only role is to mate with a queen from another colony.",
            ),
            (
                1,
                "Scent also matters: foragers mark good flowers with a pheromone from the Nasonov gland that helps other bees locate the spot.",
            ),
            (
                0,
                "In winter, honeybees cluster together and shiver their flight muscles to keep the centre of the cluster warm.",
            ),
            (
                0,
                "Ancient Egyptians kept bees in clay hives and used honey to sweeten food and treat wounds.",
            ),
            (
                0,
                "A bee sting releases venom from a sac that keeps pumping even after the stinger has torn free.",
            ),
            (
                3,
                "Karl von Frisch decoded the honeybee dance language: by measuring waggle runs he showed that bees communicate both the bearing and the distance of a food source to their hive mates.",
            ),
            (
                0,
                "Pollination by bees is essential for crops such as almonds, apples and blueberries.",
            ),
            (
                0,
                "Africanized honeybees defend their nest more aggressively than European honeybees.",
            ),
            (
                0,
                "Propolis is a resin that bees collect from tree buds and use to seal small gaps in the hive.",
            ),
        ],
    ),
    "aurora": (
        "what causes the northern lights",
        [
            (
                0,
                "The northern lights are a popular attraction in Norway, Finland and Iceland, with tours running from September to March.",
            ),
            (
                0,
                "Photographers recommend a wide-angle lens, a sturdy tripod and exposures of several seconds to capture the lights.",
            ),
            (
                1,
                "Auroras are most often seen in an oval-shaped band around the magnetic poles, which is why they are visible from high latitudes.",
            ),
            (
                0,
                "Lightning is an electrical discharge that happens when charge builds up inside storm clouds.",
            ),
            (
                0,
                "The Inuit and other Arctic peoples told many stories about the lights dancing across the winter sky.",
            ),
            (
                3,
                "Auroras happen when charged particles from the solar wind are guided by Earth's magnetic field into the upper atmosphere, where they collide with oxygen and nitrogen atoms and make them emit light.",
            ),
            (
                0,
                "Noctilucent clouds are thin, high clouds of ice crystals that glow blue after sunset in summer.",
            ),
            (
                2,
                "Strong displays follow coronal mass ejections: bursts of plasma from the Sun that disturb Earth's magnetosphere a day or two later.",
            ),
            (
                0,
                "The midnight sun is the period in summer when the sun stays above the horizon for the whole day north of the Arctic Circle.",
            ),
            (
                2,
                "The colours depend on the gas that is hit: oxygen gives the common green and rare red glows, while nitrogen produces blue and purple edges.",
            ),
            (0, "Aurora is also the name of the Roman goddess of the dawn."),
            (
                0,
                "Rainbows form when sunlight is refracted, reflected and dispersed inside water droplets.",
            ),
            (
                1,
                "Space weather forecasters watch the solar wind speed and the direction of the interplanetary magnetic field to predict aurora activity.",
            ),
            (0, "Light pollution from cities makes faint stars and the Milky Way hard to see."),
            (
                0,
                "The southern lights, or aurora australis, can be seen from Tasmania, New Zealand and Antarctica.",
            ),
            (
                3,
                "Energetic electrons accelerated along magnetic field lines slam into the thin upper atmosphere about 100 to 300 km up; the excited atoms release the energy as the glowing curtains we call the northern lights.",
            ),
            (0, "Winter in the Arctic brings polar night, when the sun does not rise for weeks."),
            (
                0,
                "Magnetic compasses point to the magnetic north pole, which slowly drifts over the years.",
            ),
            (
                0,
                "Some people report hearing faint crackling sounds during intense displays, although the cause is debated.",
            ),
            (0, "Solar panels work best on clear days when the sun is high in the sky."),
        ],
    ),
    "basil": (
        "how to keep fresh basil from wilting",
        [
            (
                0,
                "Basil is a warm-season herb in the mint family, native to tropical regions from central Africa to Southeast Asia.",
            ),
            (
                0,
                "Pesto is made by pounding basil leaves with garlic, pine nuts, hard cheese and olive oil.",
            ),
            (
                0,
                "Thai basil has a stronger anise flavour and holds up better to cooking than sweet basil.",
            ),
            (
                1,
                "Basil leaves bruise and turn black easily, so handle them gently and cut them with a sharp knife just before use.",
            ),
            (
                0,
                "Sow basil seeds indoors six weeks before the last frost and transplant them once nights stay warm.",
            ),
            (
                3,
                "Treat fresh basil like cut flowers: trim the stems, stand the bunch in a glass of water at room temperature, and loosely cover the leaves with a plastic bag; it stays fresh for about a week.",
            ),
            (
                0,
                "Holy basil, or tulsi, is used in Ayurvedic medicine and in Hindu religious practice.",
            ),
            (
                2,
                "Do not keep basil in the fridge: temperatures below about 10 degrees Celsius damage the leaves and make them wilt and darken within a day or two.",
            ),
            (0, "Pinching off the flower buds keeps a basil plant producing leaves for longer."),
            (0, "Oregano, thyme and rosemary are Mediterranean herbs that tolerate dry soil."),
            (
                2,
                "For longer storage, blanch basil leaves for a few seconds, dry them, and freeze them in oil in an ice cube tray.",
            ),
            (
                0,
                "A caprese salad layers tomatoes, mozzarella and basil, dressed with olive oil and salt.",
            ),
            (
                0,
                "Basil plants grow best with six to eight hours of sunlight a day and evenly moist soil.",
            ),
            (
                1,
                "Wash basil only right before using it; leaves stored wet tend to rot and go limp quickly.",
            ),
            (0, "The name basil comes from a Greek word meaning royal."),
            (0, "Aphids and whiteflies sometimes attack basil grown indoors."),
            (
                3,
                "To keep cut basil from wilting, change the water in its jar every day or two, keep it out of direct sun and away from cold drafts, and remove any leaves that sit in the water.",
            ),
            (0, "Dried basil has a milder, hay-like flavour compared with the fresh herb."),
            (
                0,
                "Mint spreads aggressively through underground runners and is best grown in a pot.",
            ),
            (0, "Basil oil is extracted by steam distillation and used in perfumes."),
        ],
    ),
}


def main() -> None:
    here = Path(__file__).resolve().parent
    lines, qrels = [], []
    for qid, (query, passages) in QUERIES.items():
        n = len(passages)
        cands = [
            {"docid": f"{qid}-{i:02d}", "text": text, "score": round(20.0 - i * 0.5, 2)}
            for i, (_, text) in enumerate(passages)
        ]
        lines.append(json.dumps({"qid": qid, "query": query, "candidates": cands}))
        qrels += [f"{qid} 0 {qid}-{i:02d} {grade}" for i, (grade, _) in enumerate(passages)]
        assert n == 20
    (here / "demo.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (here / "demo.qrels").write_text("\n".join(qrels) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
